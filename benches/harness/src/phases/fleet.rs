//! The servers of the load and fallback phases, all up at once: the orchestrator and the peer
//! on the five children, a second orchestrator on the same five with every child pinned
//! `"protocol": "legacy"` (the fast-path column, issue #19), each measured child kind started
//! directly, and vendor_b alone (the fallback phase's direct baseline).

use std::time::Duration;

use anyhow::{Context, Result};
use rmcp::{Peer, RoleClient};
use serde_json::Value;

use super::STOP_GRACE;
use crate::{
    ctx::Ctx,
    server::Server,
    target::{Kind, all_children_listed},
};

pub struct Fleet {
    /// The default config: every child `"protocol": "auto"`.
    pub orch: Server,
    /// The orchestrator's tool names once it listed all five children.
    pub orch_names: Vec<String>,
    /// The same five children, each pinned `"protocol": "legacy"`, and its tool names.
    pub orch_legacy: (Server, Vec<String>),
    /// fastmcp and its tool names; `None` without `--fastmcp`.
    pub peer: Option<(Server, Vec<String>)>,
    /// One direct server per measured kind, with its tool names.
    pub direct: Vec<(Kind, Server, Vec<String>)>,
    /// The same child behind the bare relay, per measured kind (empty without a relay binary).
    pub floor: Vec<(Kind, Server, Vec<String>)>,
    pub vendor_b: Server,
}

impl Fleet {
    /// Starts them all, in this order, and waits until each lists its tools.
    pub async fn start(ctx: &Ctx) -> Result<Self> {
        eprintln!("router-bench: starting the load-phase servers");
        let five = ctx.five();
        let ids: Vec<&str> = five.iter().map(|(id, _)| *id).collect();
        let orch = Server::start(
            &ctx.orchestrator("load", &five)?,
            &ctx.log("load-orchestrator"),
        )
        .await?;
        let (_, orch_names) = orch
            .wait_tools(all_children_listed(&ids), Duration::from_secs(60))
            .await?;
        let legacy = Server::start(
            &ctx.orchestrator_pinned("load-legacy", &five, Some("legacy"))?,
            &ctx.log("load-orchestrator-legacy"),
        )
        .await?;
        let (_, legacy_names) = legacy
            .wait_tools(all_children_listed(&ids), Duration::from_secs(60))
            .await?;
        let peer = match ctx.peer("load-peer", &five)? {
            Some(spec) => {
                let s = Server::start(&spec, &ctx.log("load-fastmcp")).await?;
                let (_, names) = s
                    .wait_tools(all_children_listed(&ids), Duration::from_secs(60))
                    .await?;
                Some((s, names))
            }
            None => None,
        };
        let mut kinds = vec![(Kind::Fixture, ctx.fixture(&[]))];
        if let Some(e) = ctx.everything() {
            kinds.push((Kind::Everything, e));
        }
        let mut direct = Vec::new();
        for (kind, spec) in &kinds {
            let s = Server::start(spec, &ctx.log(&format!("direct-{}", kind.id()))).await?;
            let (_, names) = s
                .wait_tools(|n| !n.is_empty(), Duration::from_secs(30))
                .await?;
            direct.push((*kind, s, names));
        }
        let mut floor = Vec::new();
        for (kind, spec) in &kinds {
            let Some(spec) = ctx.relay(spec) else {
                eprintln!("router-bench: no router-bench-relay (--relay): no floor column");
                break;
            };
            let s = Server::start(&spec, &ctx.log(&format!("floor-{}", kind.id()))).await?;
            let (_, names) = s
                .wait_tools(|n| !n.is_empty(), Duration::from_secs(30))
                .await?;
            floor.push((*kind, s, names));
        }
        let vendor_b = Server::start(
            &ctx.fixture(&["--vendor", "b"]),
            &ctx.log("direct-vendor_b"),
        )
        .await?;
        Ok(Self {
            orch,
            orch_names,
            orch_legacy: (legacy, legacy_names),
            peer,
            direct,
            floor,
            vendor_b,
        })
    }

    /// The measured child kinds, in row order.
    pub fn kinds(&self) -> Vec<Kind> {
        self.direct.iter().map(|(k, _, _)| *k).collect()
    }

    /// The orchestrator's own view of its overhead (handler time minus time waiting on the
    /// child), from its `orchestrator_status` tool; `Null` if that fails.
    pub async fn orchestrator_status(&self) -> Value {
        status(&self.orch.peer()).await.unwrap_or(Value::Null)
    }

    /// The same from the orchestrator whose children are pinned `legacy` (the report reads each
    /// child's era from both).
    pub async fn legacy_status(&self) -> Value {
        status(&self.orch_legacy.0.peer())
            .await
            .unwrap_or(Value::Null)
    }

    /// Stops the direct servers, the relays, vendor_b, the orchestrators, then the peer.
    pub async fn stop(self) {
        for (_, s, _) in self.direct.into_iter().chain(self.floor) {
            s.stop(STOP_GRACE).await;
        }
        self.vendor_b.stop(STOP_GRACE).await;
        self.orch.stop(STOP_GRACE).await;
        self.orch_legacy.0.stop(STOP_GRACE).await;
        if let Some((p, _)) = self.peer {
            p.stop(STOP_GRACE).await;
        }
    }
}

async fn status(peer: &Peer<RoleClient>) -> Result<Value> {
    let r = peer
        .call_tool(rmcp::model::CallToolRequestParams::new(
            "orchestrator_status",
        ))
        .await?;
    r.structured_content.context("no structuredContent")
}
