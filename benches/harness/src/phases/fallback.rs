//! Item 5, fallback: unified `chat` through the orchestrator when vendor_a fails and vendor_b
//! answers, against `chat` sent to vendor_b alone through it and vendor_b's `chat` direct; c=1,
//! the three paths alternating within each round.

use anyhow::Result;
use rmcp::model::JsonObject;
use serde_json::json;

use super::{fleet::Fleet, sequential};
use crate::{ctx::Ctx, stats::Samples};

/// Latencies of the three paths.
#[derive(Default)]
pub struct Fallback {
    /// `chat`: vendor_a fails, vendor_b answers.
    pub fallback: Samples,
    /// `chat` with `vendor: vendor_b` through the orchestrator.
    pub alone: Samples,
    /// vendor_b's `chat`, no orchestrator.
    pub direct: Samples,
}

pub async fn run(ctx: &Ctx, fleet: &Fleet) -> Result<Fallback> {
    let a = &ctx.args;
    eprintln!("router-bench: fallback");
    let op = fleet.orch.peer();
    let vb = fleet.vendor_b.peer();
    let (fb_args, alone_args, direct_args) = (chat(None), chat(Some("vendor_b")), chat(None));
    let mut fb = Fallback::default();
    for round in 0..a.rounds {
        let n = a.fallback_calls / a.rounds.max(1);
        let w = a.warmup / 2;
        let mut order = [0, 1, 2];
        if round % 2 == 1 {
            order.reverse();
        }
        for which in order {
            match which {
                0 => {
                    sequential(&op, "chat", &fb_args, w).await?;
                    fb.fallback
                        .extend(sequential(&op, "chat", &fb_args, n).await?);
                }
                1 => {
                    sequential(&op, "chat", &alone_args, w).await?;
                    fb.alone
                        .extend(sequential(&op, "chat", &alone_args, n).await?);
                }
                _ => {
                    sequential(&vb, "chat", &direct_args, w).await?;
                    fb.direct
                        .extend(sequential(&vb, "chat", &direct_args, n).await?);
                }
            }
        }
    }
    Ok(fb)
}

/// `chat` arguments, pinned to `vendor` if given.
fn chat(vendor: Option<&str>) -> JsonObject {
    let mut m = JsonObject::new();
    m.insert("message".into(), json!("hi"));
    if let Some(v) = vendor {
        m.insert("vendor".into(), json!(v));
    }
    m
}
