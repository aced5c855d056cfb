//! Figures for the status report: runs by state, the active count, the mean duration, the last
//! failures, and the store's size on disk.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Backend, RunStats, Store, StoreError, sql};
use crate::report::RunFailure;

impl Store {
    /// Runs by state, how many have not ended, the mean duration of those that have, and the
    /// `last_failures` most recently ended failed or compensated runs.
    pub async fn stats(&self, last_failures: u32) -> Result<RunStats, StoreError> {
        let mut totals = BTreeMap::new();
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM runs GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut active = 0;
        for row in &rows {
            let status = sql::run_status(row, "status", "run totals")?;
            let n = sql::count(sql::int(row, "n")?, "a run count")?;
            if !status.is_terminal() {
                active += n;
            }
            totals.insert(status.as_str().to_owned(), n);
        }

        // AVG is NUMERIC on PostgreSQL, which the Any driver does not read: cast to a float
        // (`DOUBLE PRECISION` is also a REAL column to SQLite).
        let average = sqlx::query(&format!(
            "SELECT CAST(AVG(finished_at - COALESCE(started_at, created_at)) AS DOUBLE PRECISION) \
             AS average FROM runs WHERE finished_at IS NOT NULL AND status IN {}",
            sql::TERMINAL
        ))
        .fetch_one(&self.pool)
        .await?
        .try_get::<Option<f64>, _>("average")?;

        let rows = sqlx::query(
            "SELECT id, workflow, status, error, finished_at FROM runs \
             WHERE status IN ('failed', 'compensated') \
             ORDER BY COALESCE(finished_at, created_at) DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(last_failures))
        .fetch_all(&self.pool)
        .await?;
        let failures = rows
            .iter()
            .map(|row| {
                let run_id = sql::text(row, "id")?;
                Ok(RunFailure {
                    status: sql::run_status(row, "status", &format!("run {run_id}"))?,
                    workflow: sql::text(row, "workflow")?,
                    error: sql::opt_text(row, "error")?,
                    finished_at: sql::opt_int(row, "finished_at")?,
                    run_id,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;

        Ok(RunStats {
            totals,
            active,
            average_duration_ms: average,
            last_failures: failures,
        })
    }

    /// The store's size in bytes: the SQLite file's pages, or the PostgreSQL database's size.
    pub async fn size_bytes(&self) -> Result<u64, StoreError> {
        let text = match self.backend {
            Backend::Sqlite => {
                "SELECT page_count * page_size AS size FROM pragma_page_count(), pragma_page_size()"
            }
            Backend::Postgres => "SELECT pg_database_size(current_database()) AS size",
        };
        let size = sqlx::query(text)
            .fetch_one(&self.pool)
            .await?
            .try_get::<i64, _>("size")?;
        sql::count(size, "the store's size")
    }
}
