//! What the queries share: the terminal states as SQL, and reading typed values out of rows
//! (a text that does not parse is [`StoreError::Corrupt`], never a panic).

use serde_json::Value;
use sqlx::{Row, any::AnyRow};

use super::{Lease, StoreError};
use crate::report::RunStatus;

/// The terminal run states as an SQL list, for `status NOT IN (…)`. Literals rather than binds so
/// every query keeps a fixed text; `terminal_list_matches_is_terminal` keeps it true.
pub(super) const TERMINAL: &str = "('completed', 'failed', 'cancelled', 'compensated')";

/// Makes every fenced write of one transaction conditional on the lease: touching the run's row
/// only where fence and owner are still the lease's. On PostgreSQL this also locks the row until
/// the transaction ends, so a concurrent claim waits for the write (or the write, arriving
/// second, finds the new fence); SQLite has one writer at a time anyway.
pub(super) async fn hold_fence(
    tx: &mut sqlx::AnyConnection,
    lease: &Lease,
) -> Result<(), StoreError> {
    let done =
        sqlx::query("UPDATE runs SET fence = fence WHERE id = $1 AND fence = $2 AND owner = $3")
            .bind(&lease.run_id)
            .bind(lease.fence)
            .bind(&lease.owner)
            .execute(&mut *tx)
            .await?;
    stale_unless(done.rows_affected(), lease)
}

/// `StaleLease` when a fenced statement touched no row.
pub(super) fn stale_unless(rows: u64, lease: &Lease) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::StaleLease {
            run_id: lease.run_id.clone(),
        })
    } else {
        Ok(())
    }
}

/// The query type every statement here builds.
pub(super) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// A `WHERE` clause of a listing, its placeholders numbered in the order conditions are added
/// (every bound value is text).
#[derive(Default)]
pub(super) struct Where {
    conditions: Vec<String>,
    binds: Vec<String>,
}

impl Where {
    /// `column op $n`, bound to `value`.
    pub(super) fn add(&mut self, column: &str, op: &str, value: impl Into<String>) {
        self.binds.push(value.into());
        self.conditions
            .push(format!("{column} {op} ${}", self.binds.len()));
    }

    /// A condition `write` spells with the placeholder numbers of `values`, bound in order.
    pub(super) fn add_with(&mut self, values: &[&str], write: impl FnOnce(&[usize]) -> String) {
        let first = self.binds.len() + 1;
        self.binds.extend(values.iter().map(|v| (*v).to_owned()));
        let numbers: Vec<usize> = (first..first + values.len()).collect();
        self.conditions.push(write(&numbers));
    }

    /// The number of the next placeholder after the clause's.
    pub(super) fn next(&self) -> usize {
        self.binds.len() + 1
    }

    /// `WHERE a AND b`, or nothing.
    pub(super) fn sql(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// Binds the clause's values to `query`, in order.
    pub(super) fn bind<'q>(&'q self, mut query: AnyQuery<'q>) -> AnyQuery<'q> {
        for b in &self.binds {
            query = query.bind(b.as_str());
        }
        query
    }
}

/// A JSON value as stored (TEXT).
pub(super) fn json_text(value: &Value) -> String {
    value.to_string()
}

/// A column as a string.
pub(super) fn text(row: &AnyRow, column: &str) -> Result<String, StoreError> {
    Ok(row.try_get::<String, _>(column)?)
}

/// A nullable column as a string.
pub(super) fn opt_text(row: &AnyRow, column: &str) -> Result<Option<String>, StoreError> {
    Ok(row.try_get::<Option<String>, _>(column)?)
}

/// A column as an integer.
pub(super) fn int(row: &AnyRow, column: &str) -> Result<i64, StoreError> {
    Ok(row.try_get::<i64, _>(column)?)
}

/// A nullable column as an integer.
pub(super) fn opt_int(row: &AnyRow, column: &str) -> Result<Option<i64>, StoreError> {
    Ok(row.try_get::<Option<i64>, _>(column)?)
}

/// A TEXT column holding JSON.
pub(super) fn json(row: &AnyRow, column: &str, whose: &str) -> Result<Value, StoreError> {
    parse_json(&text(row, column)?, column, whose)
}

/// A nullable TEXT column holding JSON.
pub(super) fn opt_json(
    row: &AnyRow,
    column: &str,
    whose: &str,
) -> Result<Option<Value>, StoreError> {
    opt_text(row, column)?
        .map(|t| parse_json(&t, column, whose))
        .transpose()
}

fn parse_json(text: &str, column: &str, whose: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: format!("{whose}: {column} is not JSON ({e})"),
    })
}

/// A text column parsed by one of the state enums' `parse`.
pub(super) fn parsed<T>(
    row: &AnyRow,
    column: &str,
    whose: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let t = text(row, column)?;
    parse(&t).ok_or_else(|| StoreError::Corrupt {
        what: format!("{whose}: unknown {column} {t:?}"),
    })
}

/// A run status column.
pub(super) fn run_status(row: &AnyRow, column: &str, whose: &str) -> Result<RunStatus, StoreError> {
    parsed(row, column, whose, RunStatus::parse)
}

/// A count as stored (BIGINT) to the unsigned width the API uses.
pub(super) fn count(n: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt {
        what: format!("{what} is negative ({n})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_list_matches_is_terminal() {
        let listed: Vec<RunStatus> = TERMINAL
            .trim_matches(['(', ')'])
            .split(", ")
            .map(|s| RunStatus::parse(s.trim_matches('\'')).expect("a run status"))
            .collect();
        let terminal: Vec<RunStatus> = RunStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(listed, terminal);
    }
}
