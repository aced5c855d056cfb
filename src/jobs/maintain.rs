//! The pool's maintenance: claiming jobs (those a crash left, and new ones as slots free up, in
//! [`fair_order`]), renewing the leases of the jobs running here, acting on cancel requests
//! other processes wrote, removing finished jobs past their `ttl`, and checking services' health.

use std::{collections::HashMap, sync::Arc, time::Duration};

use super::{Health, Jobs, fair::fair_order, ms, service};
use crate::config::JobTarget;

/// How often expired jobs are removed.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl Jobs {
    /// Runs until shutdown.
    pub(super) async fn maintain(self: Arc<Self>) {
        let tick = (self.lease_ttl / 3).clamp(Duration::from_millis(100), Duration::from_secs(5));
        let mut renew = tokio::time::interval(tick);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut health = tokio::time::interval(self.config().health_interval);
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return,
                _ = renew.tick() => {
                    self.find_dead_owners().await;
                    self.renew_leases().await;
                    self.relay_cancels().await;
                }
                _ = sweep.tick() => self.sweep().await,
                _ = health.tick() => self.check_health().await,
                () = self.pump.notified() => {}
            }
            self.claim_jobs().await;
        }
    }

    async fn find_dead_owners(&self) {
        match self.store.job_lease_owners().await {
            Ok(owners) => {
                *self.dead.lock().expect("poisoned") = self.engine.owner().dead_among(owners);
            }
            Err(e) => tracing::warn!(error = %e, "could not read the jobs' lease holders"),
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
        for lease in leases {
            if let Err(e) = self
                .store
                .renew_job(&lease, self.clock.now_ms(), ms(self.lease_ttl))
                .await
            {
                tracing::warn!(job = %lease.run_id, error = %e, "job lease not renewed");
            }
        }
    }

    async fn relay_cancels(&self) {
        let ids = match self.store.job_cancels(self.engine.owner().id()).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "could not read job cancel requests");
                return;
            }
        };
        let active = self.active.lock().expect("poisoned");
        for id in ids {
            if let Some(a) = active.get(&id) {
                a.cancel.cancel();
            }
        }
    }

    async fn sweep(&self) {
        match self.store.sweep_jobs(self.clock.now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "finished jobs past their ttl removed"),
            Err(e) => tracing::warn!(error = %e, "expired jobs not removed"),
        }
    }

    async fn check_health(&self) {
        let config = self.config();
        for (name, t) in &config.types {
            let JobTarget::Service(url) = &t.target else {
                continue;
            };
            let checked = service::health(&self.http, url).await;
            if let Err(e) = &checked {
                tracing::warn!(job_type = %name, error = %e, "service unhealthy");
            }
            self.health.lock().expect("poisoned").insert(
                name.clone(),
                Health {
                    result: checked,
                    at: self.clock.now_ms(),
                },
            );
        }
    }

    /// Claims as many jobs as there are free slots, in fair order.
    async fn claim_jobs(self: &Arc<Self>) {
        let free = self.slots.available_permits();
        // A draining process takes nothing new: a claim now would count an attempt it never
        // makes, and the next process would judge the job repeated.
        if self.drain.is_draining() {
            return;
        }
        if free == 0 {
            // Every slot is busy; whether jobs wait is learnt when one frees.
            self.backlog
                .store(true, std::sync::atomic::Ordering::Release);
            return;
        }
        let now = self.clock.now_ms();
        let dead = self.dead.lock().expect("poisoned").clone();
        // A few more than the free slots, so fairness has something to choose between.
        let want = u32::try_from(free.saturating_mul(4)).unwrap_or(u32::MAX);
        let candidates = match self.store.claimable_jobs(now, &dead, want).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not list claimable jobs");
                return;
            }
        };
        let running: HashMap<String, usize> = {
            let mut m = HashMap::new();
            for a in self.active.lock().expect("poisoned").values() {
                *m.entry(a.group.clone()).or_default() += 1;
            }
            m
        };
        let listed = candidates.len();
        let mut taken = 0;
        for c in fair_order(candidates, &running) {
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                break;
            };
            taken += 1;
            if self.active.lock().expect("poisoned").contains_key(&c.id) {
                continue;
            }
            match self
                .store
                .claim_job(
                    &c.id,
                    self.engine.owner().id(),
                    now,
                    ms(self.lease_ttl),
                    &dead,
                )
                .await
            {
                Ok(Some(lease)) => self.spawn(lease, c.group, permit),
                Ok(None) => {}
                Err(e) => tracing::warn!(job = %c.id, error = %e, "job not claimed"),
            }
        }
        // Jobs left waiting (no slot for them): new submissions queue behind them.
        self.backlog
            .store(taken < listed, std::sync::atomic::Ordering::Release);
    }
}
