//! Definitions and runs: creating, reading, the fenced state changes of a run, and control
//! requests.

use serde_json::Value;
use sqlx::{Row, any::AnyRow};

use super::{
    NewDefinition, NewRun, Request, RunFilter, RunRecord, RunUpdate, Store, StoreError,
    StoredDefinition,
    sql::{self, TERMINAL},
};
use crate::report::{EventKind, RunReport, RunStatus, StepReport};

/// The columns [`run_record`] reads, in a fixed order so every run query selects the same.
const RUN_COLUMNS: &str = "id, workflow, definition_sha, status, input, output, error, priority, \
     created_at, started_at, finished_at, deadline_at, requested, owner, lease_until, fence";

impl Store {
    /// Stores a definition unless one with its sha256 is there already (same sha, same body).
    pub async fn put_definition(&self, d: &NewDefinition<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO definitions (sha256, name, version, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(d.sha256)
        .bind(d.name)
        .bind(d.version)
        .bind(d.body)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The definition with this sha256.
    pub async fn definition(&self, sha256: &str) -> Result<Option<StoredDefinition>, StoreError> {
        let row =
            sqlx::query("SELECT sha256, name, version, body FROM definitions WHERE sha256 = $1")
                .bind(sha256)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            Ok(StoredDefinition {
                sha256: sql::text(&row, "sha256")?,
                name: sql::text(&row, "name")?,
                version: sql::text(&row, "version")?,
                body: sql::text(&row, "body")?,
            })
        })
        .transpose()
    }

    /// Creates a run, pending, with every step pending and no attempt, in one transaction: a run
    /// is never seen without its steps.
    pub async fn create_run(&self, r: &NewRun<'_>) -> Result<Option<super::Lease>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let (owner, until) = r.claim.unzip();
        sqlx::query(
            "INSERT INTO runs (id, workflow, definition_sha, status, input, priority, created_at, \
             deadline_at, owner, lease_until, fence) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(r.id)
        .bind(r.workflow)
        .bind(r.definition_sha)
        .bind(RunStatus::Pending.as_str())
        .bind(sql::json_text(r.input))
        .bind(r.priority)
        .bind(r.now)
        .bind(r.deadline_at)
        .bind(owner)
        .bind(until)
        .bind(i64::from(r.claim.is_some()))
        .execute(&mut *tx)
        .await?;
        if !r.steps.is_empty() {
            // One statement for every step: placeholders $2, $3 (name, position) per row.
            let rows: Vec<String> = (0..r.steps.len())
                .map(|i| format!("($1, ${}, ${}, 'pending', 0)", 2 * i + 2, 2 * i + 3))
                .collect();
            let sql = format!(
                "INSERT INTO steps (run_id, name, position, status, attempts) VALUES {}",
                rows.join(", ")
            );
            let mut insert = sqlx::query(&sql).bind(r.id);
            for (position, name) in (0_i64..).zip(r.steps) {
                insert = insert.bind(*name).bind(position);
            }
            insert.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(owner.map(|owner| super::Lease {
            run_id: r.id.to_owned(),
            owner: owner.to_owned(),
            fence: 1,
        }))
    }

    /// One run.
    pub async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(run_record).transpose()
    }

    /// Runs matching the filter, newest first.
    pub async fn runs(&self, f: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        let mut filter = sql::Where::default();
        if let Some(status) = f.status {
            filter.add("status", "=", status.as_str());
        }
        if let Some(workflow) = &f.workflow {
            filter.add("workflow", "=", workflow.as_str());
        }
        let text = format!(
            "SELECT {RUN_COLUMNS} FROM runs {} ORDER BY created_at DESC, id DESC LIMIT ${}",
            filter.sql(),
            filter.next()
        );
        let query = filter.bind(sqlx::query(&text));
        let rows = query.bind(i64::from(f.limit)).fetch_all(&self.pool).await?;
        rows.iter().map(run_record).collect()
    }

    /// One run with its steps, as `workflow status` shows it.
    pub async fn report(&self, run_id: &str) -> Result<Option<RunReport>, StoreError> {
        let Some(run) = self.run(run_id).await? else {
            return Ok(None);
        };
        let steps = self.steps(run_id).await?;
        Ok(Some(RunReport {
            run_id: run.id,
            workflow: run.workflow,
            definition: run.definition_sha,
            status: run.status,
            input: run.input,
            output: run.output,
            error: run.error,
            created_at: run.created_at,
            finished_at: run.finished_at,
            steps: steps
                .into_iter()
                .map(|s| StepReport {
                    name: s.name,
                    status: s.status,
                    attempts: s.attempts,
                    output: s.output,
                    error: s.error,
                    started_at: s.started_at,
                    finished_at: s.finished_at,
                })
                .collect(),
        }))
    }

    /// Changes the run's state, fenced by the lease. `started_at` is set by the first `running`,
    /// `finished_at` by the first terminal state; output and error change only when given. (The
    /// engine writes every change of a run's state with its event, [`Store::set_run_logged`].)
    #[cfg(test)]
    pub async fn set_run(&self, lease: &super::Lease, u: &RunUpdate<'_>) -> Result<(), StoreError> {
        // One statement on the run's own row: the fence check and the write cannot be separated
        // (PostgreSQL re-checks the condition against a row a concurrent claim just changed).
        let done = update_run(lease, u, false).execute(&self.writer).await?;
        sql::stale_unless(done.rows_affected(), lease)
    }

    /// [`Store::set_run`] and a run-level event in one transaction; with `release`, the lease is
    /// given up in the same write (a run that has ended needs no holder).
    pub async fn set_run_logged(
        &self,
        lease: &super::Lease,
        u: &RunUpdate<'_>,
        kind: EventKind,
        detail: &Value,
        release: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let done = update_run(lease, u, release).execute(&mut *tx).await?;
        sql::stale_unless(done.rows_affected(), lease)?;
        super::steps::insert_event(&mut tx, lease, kind, None, detail, u.now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a control request on a run that has not ended (a later request replaces an
    /// earlier one not yet acted on). Returns the run's state, `None` when there is no such run.
    pub async fn request(&self, run_id: &str, r: Request) -> Result<Option<RunStatus>, StoreError> {
        let updated = sqlx::query(&format!(
            "UPDATE runs SET requested = $2 WHERE id = $1 AND status NOT IN {TERMINAL} \
             RETURNING status"
        ))
        .bind(run_id)
        .bind(r.as_str())
        .fetch_optional(&self.writer)
        .await?;
        let row = match updated {
            Some(row) => Some(row),
            // Ended (the request is moot, the caller learns why) or absent.
            None => {
                sqlx::query("SELECT status FROM runs WHERE id = $1")
                    .bind(run_id)
                    .fetch_optional(&self.writer)
                    .await?
            }
        };
        row.map(|row| sql::run_status(&row, "status", &format!("run {run_id}")))
            .transpose()
    }

    /// The pending requests on the runs this owner leases, in one query: the engine polls it for
    /// all its runs at once.
    pub async fn requests(&self, owner: &str) -> Result<Vec<(String, Request)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT id, requested FROM runs WHERE owner = $1 AND requested IS NOT NULL \
             AND status NOT IN {TERMINAL} ORDER BY id"
        ))
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id = sql::text(row, "id")?;
                let r = sql::parsed(row, "requested", &format!("run {id}"), Request::parse)?;
                Ok((id, r))
            })
            .collect()
    }

    /// Clears the run's request once `handled` was acted on, fenced by the lease. A different
    /// request that arrived meanwhile stays, so it is acted on next rather than lost.
    pub async fn clear_request(
        &self,
        lease: &super::Lease,
        handled: Request,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET requested = CASE WHEN requested = $4 THEN NULL ELSE requested END \
             WHERE id = $1 AND fence = $2 AND owner = $3",
        )
        .bind(&lease.run_id)
        .bind(lease.fence)
        .bind(&lease.owner)
        .bind(handled.as_str())
        .execute(&self.writer)
        .await?;
        sql::stale_unless(done.rows_affected(), lease)
    }
}

/// `UPDATE runs SET <these> WHERE <fenced>`, with or without giving the lease up.
macro_rules! run_update_sql {
    ($release:literal) => {
        concat!(
            "UPDATE runs SET status = $4, started_at = COALESCE(started_at, $5), ",
            "finished_at = COALESCE(finished_at, $6), output = COALESCE($7, output), ",
            "error = COALESCE($8, error)",
            $release,
            " WHERE id = $1 AND fence = $2 AND owner = $3"
        )
    };
}

/// The fenced run update: `$1`–`$3` the lease, `$4`–`$8` the new state.
fn update_run<'q>(
    lease: &'q super::Lease,
    u: &'q RunUpdate<'q>,
    release: bool,
) -> sql::AnyQuery<'q> {
    let sql = if release {
        run_update_sql!(", owner = NULL, lease_until = NULL")
    } else {
        run_update_sql!("")
    };
    sqlx::query(sql)
        .bind(&lease.run_id)
        .bind(lease.fence)
        .bind(&lease.owner)
        .bind(u.status.as_str())
        .bind((u.status == RunStatus::Running).then_some(u.now))
        .bind(u.status.is_terminal().then_some(u.now))
        .bind(u.output.map(sql::json_text))
        .bind(u.error)
}

/// A row of [`RUN_COLUMNS`].
fn run_record(row: &AnyRow) -> Result<RunRecord, StoreError> {
    let id = sql::text(row, "id")?;
    let whose = format!("run {id}");
    Ok(RunRecord {
        workflow: sql::text(row, "workflow")?,
        definition_sha: sql::text(row, "definition_sha")?,
        status: sql::run_status(row, "status", &whose)?,
        input: sql::json(row, "input", &whose)?,
        output: sql::opt_json(row, "output", &whose)?,
        error: sql::opt_text(row, "error")?,
        priority: sql::int(row, "priority")?,
        created_at: sql::int(row, "created_at")?,
        started_at: sql::opt_int(row, "started_at")?,
        finished_at: sql::opt_int(row, "finished_at")?,
        deadline_at: sql::opt_int(row, "deadline_at")?,
        requested: sql::opt_text(row, "requested")?
            .map(|t| {
                Request::parse(&t).ok_or_else(|| StoreError::Corrupt {
                    what: format!("{whose}: unknown requested {t:?}"),
                })
            })
            .transpose()?,
        owner: sql::opt_text(row, "owner")?,
        lease_until: sql::opt_int(row, "lease_until")?,
        fence: row.try_get::<i64, _>("fence")?,
        id,
    })
}
