//! The engine's maintenance: claiming runs (those a crash left, and new ones as run slots free
//! up, highest priority first), renewing the leases of the runs driven here, and relaying the
//! control requests other processes wrote to the store.

use std::{sync::Arc, time::Duration};

use tokio::sync::mpsc;

use super::{
    Active, Engine,
    driver::{self, Stop},
    ms,
};
use crate::store::StoreError;

impl Engine {
    /// The maintenance loop: claim, renew, relay. Runs until shutdown.
    pub(super) async fn maintain(self: Arc<Self>) {
        let tick =
            (self.limits.lease_ttl / 3).clamp(Duration::from_millis(100), Duration::from_secs(5));
        let mut renew = tokio::time::interval(tick);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                _ = renew.tick() => {
                    self.find_dead_owners().await;
                    self.renew_leases().await;
                    self.relay_requests().await;
                }
                () = self.pump.notified() => {}
            }
            self.claim_runs().await;
        }
    }

    async fn find_dead_owners(&self) {
        match self.store.lease_owners().await {
            Ok(owners) => {
                *self.dead.lock().expect("poisoned") = self.owner.dead_among(owners);
            }
            Err(e) => tracing::warn!(error = %e, "could not read the store's lease holders"),
        }
    }

    async fn renew_leases(&self) {
        let leases: Vec<_> = self
            .active
            .lock()
            .expect("poisoned")
            .values()
            .map(|a| a.lease.clone())
            .collect();
        let ttl = ms(self.limits.lease_ttl);
        for lease in leases {
            if let Err(e) = self.store.renew(&lease, self.clock.now_ms(), ttl).await {
                // A lease that moved is the driver's to notice at its next write; it stops then.
                tracing::warn!(run = %lease.run_id, error = %e, "lease not renewed");
            }
        }
    }

    async fn relay_requests(&self) {
        match self.store.requests(self.owner.id()).await {
            Ok(requests) => {
                let active = self.active.lock().expect("poisoned");
                for (run, request) in requests {
                    if let Some(a) = active.get(&run) {
                        let _ = a.controls.send(request);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read control requests"),
        }
    }

    /// Claims waiting runs while run slots are free, highest priority first.
    async fn claim_runs(self: &Arc<Self>) {
        loop {
            let free = self.runs.available_permits();
            // A draining process claims nothing: its runs are about to be handed back.
            if free == 0 || self.drain.is_draining() {
                return;
            }
            let dead = self.dead.lock().expect("poisoned").clone();
            let now = self.clock.now_ms();
            let ids = match self
                .store
                .claimable(now, &dead, u32::try_from(free).unwrap_or(u32::MAX))
                .await
            {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(error = %e, "could not look for runs to claim");
                    return;
                }
            };
            let mut started = 0;
            for id in ids {
                if self.active.lock().expect("poisoned").contains_key(&id) {
                    continue;
                }
                let Ok(permit) = self.runs.clone().try_acquire_owned() else {
                    return;
                };
                let lease = match self
                    .store
                    .claim(&id, self.owner.id(), now, ms(self.limits.lease_ttl), &dead)
                    .await
                {
                    Ok(Some(lease)) => lease,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::warn!(run = %id, error = %e, "could not claim run");
                        continue;
                    }
                };
                started += 1;
                self.drive(lease, permit);
            }
            if started == 0 {
                return;
            }
        }
    }

    /// Starts the task that drives a claimed run.
    pub(super) fn drive(
        self: &Arc<Self>,
        lease: crate::store::Lease,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let (controls, rx) = mpsc::unbounded_channel();
        let run_id = lease.run_id.clone();
        self.active.lock().expect("poisoned").insert(
            run_id.clone(),
            Active {
                controls,
                lease: lease.clone(),
            },
        );
        let progress = self.progress.lock().expect("poisoned").remove(&run_id);
        let engine = self.clone();
        // Until the lease is handed back: the stop waits for it before closing the store.
        let held = self.drain.hold_leased();
        self.tracker.spawn(async move {
            let outcome = driver::drive(engine.clone(), lease.clone(), rx, progress).await;
            match &outcome {
                // The end's write gave the lease up.
                Ok(_) => {}
                Err(e) => {
                    if matches!(e, Stop::Shutdown) {
                        tracing::info!(target: "mcp_orchestrator::workflow", run = %run_id, "run handed back: this replica is stopping");
                    } else {
                        tracing::warn!(target: "mcp_orchestrator::workflow", run = %run_id, error = %e, "run left to another worker");
                    }
                    // Free the lease so a restart or another replica picks the run up at once.
                    if let Err(e) = engine.store.release(&lease).await
                        && !matches!(e, StoreError::StaleLease { .. })
                    {
                        tracing::debug!(run = %run_id, error = %e, "lease not released");
                    }
                }
            }
            engine.active.lock().expect("poisoned").remove(&run_id);
            engine.signal_end(&run_id);
            drop(permit);
            engine.pump.notify_one();
            drop(held);
        });
    }
}
