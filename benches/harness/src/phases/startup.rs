//! Item 4, start-up: cold starts of each distinct child alone, of the orchestrator and of the
//! peer on the same five children, timed from spawn to the first `tools/list` answer that lists
//! them all.

use std::{collections::BTreeMap, time::Duration};

use anyhow::Result;

use super::STOP_GRACE;
use crate::{
    ctx::Ctx,
    server::{Server, Spec},
    stats::median,
    target::all_children_listed,
};

/// The cold starts of one configuration of five children.
pub struct Startup {
    pub label: String,
    /// The child whose median start alone is the largest, and its starts.
    pub slowest_child: Option<(String, Vec<Duration>)>,
    pub orchestrator: Vec<Duration>,
    /// Empty without `--fastmcp`.
    pub peer: Vec<Duration>,
}

/// Both configurations (five fixtures; four fixtures and server-everything), or none with
/// `--no-startup`.
pub async fn run(ctx: &Ctx) -> Result<Vec<Startup>> {
    let a = &ctx.args;
    let mut startups = Vec::new();
    if !a.no_startup {
        startups.push(startup(ctx, "five Rust fixtures", &ctx.five_fixtures()).await?);
        let mixed_label = if a.everything.is_some() {
            "4 fixtures + server-everything"
        } else {
            "five fixtures (mixed flags)"
        };
        startups.push(startup(ctx, mixed_label, &ctx.five()).await?);
    }
    Ok(startups)
}

async fn startup(ctx: &Ctx, label: &str, children: &[(&'static str, Spec)]) -> Result<Startup> {
    let ids: Vec<&str> = children.iter().map(|(id, _)| *id).collect();
    let orch = ctx.orchestrator(&format!("startup-{label}"), children)?;
    let peer = ctx.peer(&format!("startup-peer-{label}"), children)?;
    // Distinct child commands, each alone.
    let mut distinct: Vec<(&str, &Spec)> = Vec::new();
    for (id, s) in children {
        if !distinct
            .iter()
            .any(|(_, d)| d.program == s.program && d.args == s.args)
        {
            distinct.push((id, s));
        }
    }
    let mut alone: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut out = Startup {
        label: label.to_owned(),
        slowest_child: None,
        orchestrator: Vec::new(),
        peer: Vec::new(),
    };
    for run in 0..ctx.args.startup_runs {
        eprintln!("router-bench: start-up {label}, run {}", run + 1);
        for (id, spec) in &distinct {
            let s = Server::start(spec, &ctx.log(&format!("alone-{id}"))).await?;
            let (t, _) = s
                .wait_tools(|n| !n.is_empty(), Duration::from_secs(30))
                .await?;
            s.stop(STOP_GRACE).await;
            alone.entry(id).or_default().push(t);
        }
        let ready = all_children_listed(&ids);
        let s = Server::start(&orch, &ctx.log("startup-orchestrator")).await?;
        let (t, _) = s.wait_tools(&ready, Duration::from_secs(60)).await?;
        s.stop(STOP_GRACE).await;
        out.orchestrator.push(t);
        if let Some(p) = &peer {
            let s = Server::start(p, &ctx.log("startup-fastmcp")).await?;
            let (t, _) = s.wait_tools(&ready, Duration::from_secs(60)).await?;
            s.stop(STOP_GRACE).await;
            out.peer.push(t);
        }
        // Let the stopped processes go before the next cold start.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    out.slowest_child = alone
        .into_iter()
        .max_by_key(|(_, v)| median(v))
        .map(|(id, v)| (id.to_owned(), v));
    Ok(out)
}
