//! Jobs: creating, reading, listing, the fenced start and finish of a job, cancel requests, and
//! removal of finished jobs past their `ttl`. Leases are the runs' (see [`super::lease`]).

use serde_json::Value;
use sqlx::{Row, any::AnyRow};

use super::{
    Lease, Store, StoreError,
    lease::{Leased, claimable_condition},
    sql,
};
use crate::report::{JobKind, JobReport, JobStatus};

const JOB_COLUMNS: &str = "id, kind, job_type, target, payload, metadata, status, result, error, \
     priority, created_at, started_at, finished_at, attempts, inputs, requested";

/// A job to store, pending.
#[derive(Debug, Clone, Copy)]
pub struct NewJob<'a> {
    /// Its id (a UUID).
    pub id: &'a str,
    /// What it runs.
    pub kind: JobKind,
    /// The configured type it was submitted as.
    pub job_type: Option<&'a str>,
    /// The tool, workflow or service URL.
    pub target: &'a str,
    /// What it runs with (artifact references already resolved).
    pub payload: &'a Value,
    /// The caller's metadata.
    pub metadata: &'a Value,
    /// Higher first.
    pub priority: i64,
    /// How long it is kept once finished (ms).
    pub ttl_ms: Option<i64>,
    /// The artifact ids the payload referenced.
    pub inputs: &'a [String],
    /// Unix ms.
    pub now: i64,
    /// Claim it for this owner until this time (unix ms) in the same write.
    pub claim: Option<(&'a str, i64)>,
}

/// Which jobs [`Store::jobs`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in this state.
    pub status: Option<JobStatus>,
    /// Only jobs of this configured type.
    pub job_type: Option<String>,
    /// At most this many (0: the default, 100).
    pub limit: u32,
    /// Only jobs after this one in the listing's order (newest first): a page's last id.
    pub after: Option<String>,
}

/// A job a worker may claim, with what fair picking needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimable {
    /// The job.
    pub id: String,
    /// Its configured type, else its kind: what fairness is between.
    pub group: String,
    /// Its priority.
    pub priority: i64,
}

impl Store {
    /// Stores a new pending job (claimed for `claim`'s owner when given; the lease's fence is 1).
    pub async fn create_job(&self, j: &NewJob<'_>) -> Result<Option<Lease>, StoreError> {
        let (owner, until) = j.claim.unzip();
        sqlx::query(
            "INSERT INTO jobs (id, kind, job_type, target, payload, metadata, status, priority, \
             created_at, ttl_ms, inputs, owner, lease_until, fence) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(j.id)
        .bind(j.kind.as_str())
        .bind(j.job_type)
        .bind(j.target)
        .bind(sql::json_text(j.payload))
        .bind(sql::json_text(j.metadata))
        .bind(j.priority)
        .bind(j.now)
        .bind(j.ttl_ms)
        .bind(sql::json_text(&Value::from(j.inputs.to_vec())))
        .bind(owner)
        .bind(until)
        .bind(i64::from(j.claim.is_some()))
        .execute(&self.writer)
        .await?;
        Ok(owner.map(|owner| Lease {
            run_id: j.id.to_owned(),
            owner: owner.to_owned(),
            fence: 1,
        }))
    }

    /// One job, with the ids of the artifacts it produced.
    pub async fn job(&self, id: &str) -> Result<Option<JobReport>, StoreError> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(mut job) = row.as_ref().map(job_report).transpose()? else {
            return Ok(None);
        };
        job.artifacts = self.artifact_ids_of_job(id).await?;
        Ok(Some(job))
    }

    /// Jobs matching the filter, newest first.
    pub async fn jobs(&self, f: &JobFilter) -> Result<Vec<JobReport>, StoreError> {
        let mut filter = sql::Where::default();
        if let Some(status) = f.status {
            filter.add("status", "=", status.as_str());
        }
        if let Some(t) = &f.job_type {
            filter.add("job_type", "=", t.as_str());
        }
        if let Some(after) = &f.after {
            // The page after a job: older than it, or as old with a smaller id.
            filter.add_with(&[after, after], |n| {
                format!(
                    "(created_at < (SELECT created_at FROM jobs WHERE id = ${a}) OR \
                     (created_at = (SELECT created_at FROM jobs WHERE id = ${a}) AND id < ${b}))",
                    a = n[0],
                    b = n[1]
                )
            });
        }
        let text = format!(
            "SELECT {JOB_COLUMNS} FROM jobs {} ORDER BY created_at DESC, id DESC LIMIT ${}",
            filter.sql(),
            filter.next()
        );
        let query = filter.bind(sqlx::query(&text));
        let limit = if f.limit == 0 { 100 } else { f.limit };
        let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter().map(job_report).collect()
    }

    /// Marks a claimed job running (a new attempt). Fails with `StaleLease` when the lease moved
    /// or the job was cancelled meanwhile.
    pub async fn start_job(&self, lease: &Lease, now: i64) -> Result<JobReport, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, $4), \
             attempts = attempts + 1 \
             WHERE id = $1 AND fence = $2 AND owner = $3 AND status IN ('pending', 'running') \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(&lease.run_id)
        .bind(lease.fence)
        .bind(&lease.owner)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        match row {
            Some(row) => job_report(&row),
            None => Err(StoreError::StaleLease {
                run_id: lease.run_id.clone(),
            }),
        }
    }

    /// Ends a job (completed, failed or cancelled) and gives its lease up, fenced.
    pub async fn finish_job(
        &self,
        lease: &Lease,
        status: JobStatus,
        result: Option<&Value>,
        error: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET status = $4, result = $5, error = $6, finished_at = $7, \
             requested = NULL, owner = NULL, lease_until = NULL \
             WHERE id = $1 AND fence = $2 AND owner = $3",
        )
        .bind(&lease.run_id)
        .bind(lease.fence)
        .bind(&lease.owner)
        .bind(status.as_str())
        .bind(result.map(sql::json_text))
        .bind(error)
        .bind(now)
        .execute(&self.writer)
        .await?;
        sql::stale_unless(done.rows_affected(), lease)
    }

    /// Cancels a job: a pending one at once (whoever may have claimed it finds it cancelled when
    /// it starts), a running one by a request its lease holder acts on. Returns the state the job
    /// was in, `None` when there is no such job.
    pub async fn cancel_job(&self, id: &str, now: i64) -> Result<Option<JobStatus>, StoreError> {
        let cancelled = sqlx::query(
            "UPDATE jobs SET status = 'cancelled', finished_at = $2, error = 'cancelled before it started', \
             owner = NULL, lease_until = NULL WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        if cancelled.rows_affected() == 1 {
            return Ok(Some(JobStatus::Pending));
        }
        sqlx::query("UPDATE jobs SET requested = 'cancel' WHERE id = $1 AND status = 'running'")
            .bind(id)
            .execute(&self.writer)
            .await?;
        let row = sqlx::query("SELECT status FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.writer)
            .await?;
        row.map(|row| sql::parsed(&row, "status", &format!("job {id}"), JobStatus::parse))
            .transpose()
    }

    /// The running jobs `owner` leases that have a cancel request.
    pub async fn job_cancels(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM jobs WHERE owner = $1 AND requested = 'cancel' AND status = 'running'",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| sql::text(row, "id")).collect()
    }

    /// Removes finished jobs kept past their `ttl`; returns how many.
    pub async fn sweep_jobs(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM jobs WHERE finished_at IS NOT NULL AND ttl_ms IS NOT NULL \
             AND finished_at + ttl_ms < $1",
        )
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// Jobs by state.
    pub async fn job_totals(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let n = sql::int(row, "n")?;
                Ok((sql::text(row, "status")?, sql::count(n, "a job count")?))
            })
            .collect()
    }

    /// The owners holding leases on jobs that have not ended.
    pub async fn job_lease_owners(&self) -> Result<Vec<String>, StoreError> {
        self.lease_owners_in(Leased::Jobs).await
    }

    /// Jobs a worker may claim now, highest priority first, then oldest.
    pub async fn claimable_jobs(
        &self,
        now: i64,
        dead_owners: &[String],
        limit: u32,
    ) -> Result<Vec<Claimable>, StoreError> {
        let text = format!(
            "SELECT id, COALESCE(job_type, kind) AS grp, priority FROM jobs WHERE {} \
             ORDER BY priority DESC, created_at ASC, id ASC LIMIT $2",
            claimable_condition(1, 3, dead_owners.len())
        );
        let mut query = sqlx::query(&text).bind(now).bind(i64::from(limit));
        for owner in dead_owners {
            query = query.bind(owner.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(Claimable {
                    id: sql::text(row, "id")?,
                    group: sql::text(row, "grp")?,
                    priority: sql::int(row, "priority")?,
                })
            })
            .collect()
    }

    /// Takes the lease on a job (see [`Store::claim`]).
    pub async fn claim_job(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        ttl_ms: i64,
        dead_owners: &[String],
    ) -> Result<Option<Lease>, StoreError> {
        self.claim_in(Leased::Jobs, id, owner, now, ttl_ms, dead_owners)
            .await
    }

    /// Extends a job's lease (see [`Store::renew`]).
    pub async fn renew_job(&self, lease: &Lease, now: i64, ttl_ms: i64) -> Result<(), StoreError> {
        self.renew_in(Leased::Jobs, lease, now, ttl_ms).await
    }

    /// Gives a job's lease up (see [`Store::release`]).
    pub async fn release_job(&self, lease: &Lease) -> Result<(), StoreError> {
        self.release_in(Leased::Jobs, lease).await
    }
}

fn job_report(row: &AnyRow) -> Result<JobReport, StoreError> {
    let id = sql::text(row, "id")?;
    let whose = format!("job {id}");
    let inputs = sql::json(row, "inputs", &whose)?;
    Ok(JobReport {
        kind: sql::parsed(row, "kind", &whose, JobKind::parse)?,
        job_type: sql::opt_text(row, "job_type")?,
        target: sql::text(row, "target")?,
        status: sql::parsed(row, "status", &whose, JobStatus::parse)?,
        payload: sql::json(row, "payload", &whose)?,
        metadata: sql::json(row, "metadata", &whose)?,
        priority: sql::int(row, "priority")?,
        result: sql::opt_json(row, "result", &whose)?,
        error: sql::opt_text(row, "error")?,
        created_at: sql::int(row, "created_at")?,
        started_at: sql::opt_int(row, "started_at")?,
        finished_at: sql::opt_int(row, "finished_at")?,
        attempts: u32::try_from(sql::int(row, "attempts")?).unwrap_or(u32::MAX),
        inputs: serde_json::from_value(inputs).map_err(|e| StoreError::Corrupt {
            what: format!("{whose}: inputs is not a list of ids ({e})"),
        })?,
        artifacts: Vec::new(),
        cancel_requested: row.try_get::<Option<String>, _>("requested")?.as_deref()
            == Some("cancel"),
        job_id: id,
    })
}
