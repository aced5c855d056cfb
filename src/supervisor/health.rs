//! The health loop of one connection: an MCP `ping` every interval (a `server/discover` for a
//! child in the stateless era, which has no ping), each bounded by a timeout. It only reports;
//! the supervisor decides what a miss means.

use std::time::Duration;

use rmcp::{
    Peer, RoleClient,
    model::{ClientRequest, DiscoverRequest, DiscoverRequestParams, PingRequest},
    service::PeerRequestOptions,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::era::Era;

/// Pings `peer` every `interval` until `stop` fires, sending `true` (answered) or `false`
/// (error or timeout) for each ping.
pub async fn ping_loop(
    peer: Peer<RoleClient>,
    era: Era,
    interval: Duration,
    timeout: Duration,
    results: mpsc::Sender<bool>,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let ok = tokio::select! {
            () = stop.cancelled() => return,
            ok = ping(&peer, era, timeout) => ok,
        };
        if results.send(ok).await.is_err() {
            return;
        }
    }
}

async fn ping(peer: &Peer<RoleClient>, era: Era, timeout: Duration) -> bool {
    let request = match era {
        Era::Legacy => ClientRequest::PingRequest(PingRequest::default()),
        Era::Modern => {
            ClientRequest::DiscoverRequest(DiscoverRequest::new(DiscoverRequestParams::default()))
        }
    };
    match peer
        .send_request_with_option(request, PeerRequestOptions::with_timeout(timeout))
        .await
    {
        Ok(handle) => handle.await_response().await.is_ok(),
        Err(_) => false,
    }
}
