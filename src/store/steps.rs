//! Steps and events: reading them, and the fenced writes of a run's lease holder.

use serde_json::Value;
use sqlx::{Row, any::AnyRow};

use super::{Lease, StepRecord, StepUpdate, Store, StoreError, sql};
use crate::report::{EventKind, EventReport, StepStatus};

impl Store {
    /// The run's steps in definition order.
    pub async fn steps(&self, run_id: &str) -> Result<Vec<StepRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, position, status, attempts, output, error, started_at, finished_at, \
             completed_seq, task_id FROM steps WHERE run_id = $1 ORDER BY position",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| step_record(row, run_id)).collect()
    }

    /// The run's events after `after_seq` (0: all), oldest first.
    pub async fn events(
        &self,
        run_id: &str,
        after_seq: i64,
    ) -> Result<Vec<EventReport>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, step, detail FROM events WHERE run_id = $1 AND seq > $2 \
             ORDER BY seq",
        )
        .bind(run_id)
        .bind(after_seq)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let seq = sql::int(row, "seq")?;
                let whose = format!("event {seq} of run {run_id}");
                Ok(EventReport {
                    seq,
                    at: sql::int(row, "at")?,
                    kind: sql::parsed(row, "kind", &whose, EventKind::parse)?,
                    step: sql::opt_text(row, "step")?,
                    detail: sql::json(row, "detail", &whose)?,
                })
            })
            .collect()
    }

    /// Changes a step's state, fenced by the lease.
    ///
    /// `started_at` is set by the first `running`; `finished_at` by every end state;
    /// `completed_seq` by the first `completed` (one more than the run's highest, so it orders
    /// completions); attempts, output, error and task id change only when given. A step the run
    /// does not have is [`StoreError::Corrupt`].
    pub async fn set_step(&self, lease: &Lease, u: &StepUpdate<'_>) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sql::hold_fence(&mut tx, lease).await?;
        update_step(&mut tx, lease, u).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Store::set_step`] and [`Store::event`] for that step in one transaction: a step's state
    /// and the event that tells of it are written together (half the commits of two calls).
    pub async fn set_step_logged(
        &self,
        lease: &Lease,
        u: &StepUpdate<'_>,
        kind: EventKind,
        detail: &Value,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        if self.backend == super::Backend::Sqlite {
            // SQLite runs each statement on its connection's own thread: one request for the
            // three statements instead of three round trips (the hot path: twice per step).
            let detail_text = sql::json_text(detail);
            let done = bind_step(sqlx::query(SQLITE_STEP_LOGGED), lease, u)
                .bind(lease.fence)
                .bind(&lease.owner)
                .bind(u.now)
                .bind(kind.as_str())
                .bind(&detail_text)
                .execute(&mut *tx)
                .await?;
            match done.rows_affected() {
                3 => {}
                0 => {
                    return Err(StoreError::StaleLease {
                        run_id: lease.run_id.clone(),
                    });
                }
                _ => {
                    return Err(StoreError::Corrupt {
                        what: format!("run {} has no step {:?}", lease.run_id, u.name),
                    });
                }
            }
        } else {
            sql::hold_fence(&mut tx, lease).await?;
            update_step(&mut tx, lease, u).await?;
            insert_event(&mut tx, lease, kind, Some(u.name), detail, u.now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Appends an event to the run, fenced by the lease. Returns its sequence number.
    pub async fn event(
        &self,
        lease: &Lease,
        kind: EventKind,
        step: Option<&str>,
        detail: &Value,
        now: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.writer.begin().await?;
        sql::hold_fence(&mut tx, lease).await?;
        let seq = insert_event(&mut tx, lease, kind, step, detail, now).await?;
        tx.commit().await?;
        Ok(seq)
    }
}

pub(super) type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// The step update of [`Store::set_step`], inside a transaction that holds the fence.
/// `UPDATE steps SET <the new state>`, binding `$1`–`$9` (run id, name, status, started, finished,
/// attempts, output, error, task id); the caller adds the `WHERE`.
macro_rules! update_step_sql {
    () => {
        concat!(
            "UPDATE steps SET status = $3, started_at = COALESCE(started_at, $4), ",
            "finished_at = COALESCE($5, finished_at), ",
            "completed_seq = CASE WHEN $3 = 'completed' AND completed_seq IS NULL ",
            "THEN (SELECT COALESCE(MAX(s.completed_seq), 0) + 1 FROM steps s WHERE s.run_id = $1) ",
            "ELSE completed_seq END, ",
            "attempts = COALESCE($6, attempts), output = COALESCE($7, output), ",
            "error = COALESCE($8, error), task_id = COALESCE($9, task_id) "
        )
    };
}

/// The step update (the fence is held by the transaction).
const UPDATE_STEP: &str = concat!(update_step_sql!(), "WHERE run_id = $1 AND name = $2");

/// [`Store::set_step_logged`] on SQLite as one request to the connection's thread: the fence
/// check, the step update and the event insert, each going ahead only if the one before changed
/// a row (`changes()`); `$10`–`$14` are fence, owner, time, kind and detail. Three rows changed
/// mean all three happened.
const SQLITE_STEP_LOGGED: &str = concat!(
    "UPDATE runs SET fence = fence WHERE id = $1 AND fence = $10 AND owner = $11; ",
    update_step_sql!(),
    "WHERE run_id = $1 AND name = $2 AND changes() = 1; ",
    "INSERT INTO events (run_id, at, kind, step, detail) SELECT $1, $12, $13, $2, $14 ",
    "WHERE changes() = 1"
);

/// Binds `$1`–`$9` of [`UPDATE_STEP`].
fn bind_step<'q>(
    query: sql::AnyQuery<'q>,
    lease: &'q Lease,
    u: &'q StepUpdate<'q>,
) -> sql::AnyQuery<'q> {
    query
        .bind(&lease.run_id)
        .bind(u.name)
        .bind(u.status.as_str())
        .bind((u.status == StepStatus::Running).then_some(u.now))
        .bind(is_end(u.status).then_some(u.now))
        .bind(u.attempts.map(i64::from))
        .bind(u.output.map(sql::json_text))
        .bind(u.error)
        .bind(u.task_id)
}

async fn update_step(tx: &mut Tx<'_>, lease: &Lease, u: &StepUpdate<'_>) -> Result<(), StoreError> {
    // The completion counter is read and written under the run's row lock taken above, so
    // two completions of one run cannot draw the same number.
    let done = bind_step(sqlx::query(UPDATE_STEP), lease, u)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Corrupt {
            what: format!("run {} has no step {:?}", lease.run_id, u.name),
        });
    }
    Ok(())
}

/// The event insert of [`Store::event`], inside a transaction that holds the fence.
pub(super) async fn insert_event(
    tx: &mut Tx<'_>,
    lease: &Lease,
    kind: EventKind,
    step: Option<&str>,
    detail: &Value,
    now: i64,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO events (run_id, at, kind, step, detail) VALUES ($1, $2, $3, $4, $5) \
             RETURNING seq",
    )
    .bind(&lease.run_id)
    .bind(now)
    .bind(kind.as_str())
    .bind(step)
    .bind(sql::json_text(detail))
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get::<i64, _>("seq")?)
}

/// Whether a step state ends a step's (or its compensation's) work, stamping `finished_at`.
fn is_end(status: StepStatus) -> bool {
    !matches!(
        status,
        StepStatus::Pending | StepStatus::Running | StepStatus::Compensating
    )
}

fn step_record(row: &AnyRow, run_id: &str) -> Result<StepRecord, StoreError> {
    let name = sql::text(row, "name")?;
    let whose = format!("step {name:?} of run {run_id}");
    let attempts = sql::int(row, "attempts")?;
    Ok(StepRecord {
        position: sql::int(row, "position")?,
        status: sql::parsed(row, "status", &whose, StepStatus::parse)?,
        attempts: u32::try_from(attempts).map_err(|_| StoreError::Corrupt {
            what: format!("{whose}: attempts out of range ({attempts})"),
        })?,
        output: sql::opt_json(row, "output", &whose)?,
        error: sql::opt_text(row, "error")?,
        started_at: sql::opt_int(row, "started_at")?,
        finished_at: sql::opt_int(row, "finished_at")?,
        completed_seq: sql::opt_int(row, "completed_seq")?,
        task_id: sql::opt_text(row, "task_id")?,
        name,
    })
}
