//! Leases: which runs (or jobs: the same columns, the same rules) are free to drive, taking one
//! (bumping its fence), renewing and releasing.
//!
//! A run is claimable when it has not ended and its lease is free (no owner or no expiry),
//! expired (`lease_until < now`), or held by an owner the caller knows is dead. A claim is one
//! conditional `UPDATE … RETURNING`, so of any number of concurrent claims on one run, from any
//! number of replicas, exactly one wins.

use super::{Lease, Store, StoreError, sql};

/// The tables whose rows are leased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Leased {
    Runs,
    Jobs,
}

impl Leased {
    const fn table(self) -> &'static str {
        match self {
            Self::Runs => "runs",
            Self::Jobs => "jobs",
        }
    }
}

impl Store {
    /// The distinct owners holding leases on runs that have not ended.
    pub async fn lease_owners(&self) -> Result<Vec<String>, StoreError> {
        self.lease_owners_in(Leased::Runs).await
    }

    /// Ids of runs a worker may claim now (see the module doc), highest priority first, then
    /// oldest first.
    pub async fn claimable(
        &self,
        now: i64,
        dead_owners: &[String],
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.claimable_in(Leased::Runs, now, dead_owners, limit)
            .await
    }

    /// Takes the lease on a run for `ttl_ms` when it is claimable, incrementing its fence.
    /// `None` when someone else holds a live lease (a live lease of `owner` itself included: it
    /// holds a [`Lease`] for it already), or the run has ended or does not exist.
    pub async fn claim(
        &self,
        run_id: &str,
        owner: &str,
        now: i64,
        ttl_ms: i64,
        dead_owners: &[String],
    ) -> Result<Option<Lease>, StoreError> {
        self.claim_in(Leased::Runs, run_id, owner, now, ttl_ms, dead_owners)
            .await
    }

    /// Extends the lease to `now + ttl_ms`; [`StoreError::StaleLease`] when it is no longer ours.
    pub async fn renew(&self, lease: &Lease, now: i64, ttl_ms: i64) -> Result<(), StoreError> {
        self.renew_in(Leased::Runs, lease, now, ttl_ms).await
    }

    /// Gives the lease up, if it is still ours (a lease already taken over is not an error: it
    /// is released either way).
    pub async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.release_in(Leased::Runs, lease).await
    }

    /// Gives up every lease `owner` still holds on runs and jobs that have not ended: what a
    /// stopping process does last, so that another replica claims them at once instead of
    /// waiting for them to expire. Releasing changes no status: a step or job left `running` is
    /// judged by the next holder exactly as after a crash. Returns how many were released.
    pub async fn release_owner(&self, owner: &str) -> Result<Released, StoreError> {
        Ok(Released {
            runs: self.release_owner_in(Leased::Runs, owner).await?,
            jobs: self.release_owner_in(Leased::Jobs, owner).await?,
        })
    }
}

/// What [`Store::release_owner`] gave up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Released {
    /// Runs.
    pub runs: u64,
    /// Jobs.
    pub jobs: u64,
}

impl Store {
    pub(super) async fn lease_owners_in(&self, t: Leased) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT DISTINCT owner FROM {} WHERE owner IS NOT NULL \
             AND status NOT IN {} ORDER BY owner",
            t.table(),
            sql::TERMINAL
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| sql::text(row, "owner")).collect()
    }

    pub(super) async fn claimable_in(
        &self,
        t: Leased,
        now: i64,
        dead_owners: &[String],
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let text = format!(
            "SELECT id FROM {} WHERE {} ORDER BY priority DESC, created_at ASC, id ASC LIMIT $2",
            t.table(),
            claimable_condition(1, 3, dead_owners.len())
        );
        let mut query = sqlx::query(&text).bind(now).bind(i64::from(limit));
        for owner in dead_owners {
            query = query.bind(owner.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(|row| sql::text(row, "id")).collect()
    }

    pub(super) async fn claim_in(
        &self,
        t: Leased,
        run_id: &str,
        owner: &str,
        now: i64,
        ttl_ms: i64,
        dead_owners: &[String],
    ) -> Result<Option<Lease>, StoreError> {
        let text = format!(
            "UPDATE {} SET owner = $2, lease_until = $3, fence = fence + 1 \
             WHERE id = $1 AND {} RETURNING fence",
            t.table(),
            claimable_condition(4, 5, dead_owners.len())
        );
        let mut query = sqlx::query(&text)
            .bind(run_id)
            .bind(owner)
            .bind(now.saturating_add(ttl_ms))
            .bind(now);
        for dead in dead_owners {
            query = query.bind(dead.as_str());
        }
        let Some(row) = query.fetch_optional(&self.writer).await? else {
            return Ok(None);
        };
        Ok(Some(Lease {
            run_id: run_id.to_owned(),
            owner: owner.to_owned(),
            fence: sql::int(&row, "fence")?,
        }))
    }

    pub(super) async fn renew_in(
        &self,
        t: Leased,
        lease: &Lease,
        now: i64,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(&format!(
            "UPDATE {} SET lease_until = $4 WHERE id = $1 AND fence = $2 AND owner = $3",
            t.table()
        ))
        .bind(&lease.run_id)
        .bind(lease.fence)
        .bind(&lease.owner)
        .bind(now.saturating_add(ttl_ms))
        .execute(&self.writer)
        .await?;
        sql::stale_unless(done.rows_affected(), lease)
    }

    pub(super) async fn release_in(&self, t: Leased, lease: &Lease) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "UPDATE {} SET owner = NULL, lease_until = NULL \
             WHERE id = $1 AND fence = $2 AND owner = $3",
            t.table()
        ))
        .bind(&lease.run_id)
        .bind(lease.fence)
        .bind(&lease.owner)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}

impl Store {
    async fn release_owner_in(&self, t: Leased, owner: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(&format!(
            "UPDATE {} SET owner = NULL, lease_until = NULL \
             WHERE owner = $1 AND status NOT IN {}",
            t.table(),
            sql::TERMINAL
        ))
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}

/// The SQL condition for a claimable run: `$now` is placeholder `now`, the dead owners are
/// `dead` placeholders from `first_dead` on.
pub(super) fn claimable_condition(now: usize, first_dead: usize, dead: usize) -> String {
    let mut free = format!("owner IS NULL OR lease_until IS NULL OR lease_until < ${now}");
    if dead > 0 {
        let list: Vec<String> = (first_dead..first_dead + dead)
            .map(|i| format!("${i}"))
            .collect();
        free.push_str(&format!(" OR owner IN ({})", list.join(", ")));
    }
    format!("status NOT IN {} AND ({free})", sql::TERMINAL)
}

#[cfg(test)]
mod tests {
    use super::claimable_condition;

    #[test]
    fn dead_owners_get_their_own_placeholders() {
        assert_eq!(
            claimable_condition(4, 5, 2),
            "status NOT IN ('completed', 'failed', 'cancelled', 'compensated') AND \
             (owner IS NULL OR lease_until IS NULL OR lease_until < $4 OR owner IN ($5, $6))"
        );
    }
}
