//! The measurement phases, in the order `main` runs them: start-up (on a quiet machine), then
//! the load-phase servers come up ([`fleet`]) and serve the load and fallback phases. The
//! item-only modes are [`workflows`], [`jobs`] and [`replicas`] (`--fleet`: `serve --http`
//! replicas behind haproxy; not [`fleet`], which is the stdio load phase's set of servers). Also
//! the two ways every phase sends calls over stdio: one caller in a loop, and N such callers at
//! once.

pub mod fallback;
pub mod fleet;
pub mod jobs;
pub mod load;
pub mod replicas;
pub mod startup;
pub mod workflows;

use std::time::{Duration, Instant};

use anyhow::Result;
use rmcp::{Peer, RoleClient, model::JsonObject};

use crate::{server::call, stats::Samples};

/// How long a stopped server may take to exit before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(8);

/// `n` calls one after another; each one's latency.
pub async fn sequential(
    peer: &Peer<RoleClient>,
    tool: &str,
    args: &JsonObject,
    n: usize,
) -> Result<Samples> {
    let mut s = Samples::default();
    for _ in 0..n {
        let t = Instant::now();
        call(peer, tool, args).await?;
        s.push(t.elapsed());
    }
    Ok(s)
}

/// `tasks` callers sharing one client, each making `per_task` [`sequential`] calls; all their
/// latencies and the wall time of the whole.
pub async fn concurrent(
    peer: &Peer<RoleClient>,
    tool: &str,
    args: &JsonObject,
    tasks: usize,
    per_task: usize,
) -> Result<(Samples, Duration)> {
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (peer, tool, args) = (peer.clone(), tool.to_owned(), args.clone());
        set.spawn(async move { sequential(&peer, &tool, &args, per_task).await });
    }
    let mut all = Samples::default();
    while let Some(r) = set.join_next().await {
        all.extend(r??);
    }
    Ok((all, start.elapsed()))
}
