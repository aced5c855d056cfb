//! The durable store of workflow runs (definitions, runs, their steps and their events), jobs and
//! artifacts, in SQLite
//! (embedded, the default: one file, nothing to start) or PostgreSQL (several replicas share one).
//!
//! One set of portable queries serves both backends through sqlx's `Any` driver; only the schema
//! migrations are per dialect (`migrations/sqlite`, `migrations/postgres`), embedded in the binary
//! and applied by [`Store::open`].
//!
//! Times are unix milliseconds passed in by the caller (`now`): the store never reads the clock,
//! so the engine's tests can drive time.
//!
//! # Leases and fences
//! One worker drives a run at a time. It [`claim`](Store::claim)s the run, which bumps the run's
//! `fence`, and every write it makes afterwards carries its [`Lease`]: the write happens only
//! while the run's fence and owner are still the lease's, in the same statement or transaction,
//! otherwise it fails with [`StoreError::StaleLease`] and changes nothing. A worker whose lease
//! expired and was taken over therefore cannot write over its successor, on either backend.
//!
//! Control requests (pause, resume, cancel) are unfenced: any process, such as the CLI without a
//! running instance, records them with [`Store::request`]; the lease holder polls them with
//! [`Store::requests`] and clears them with [`Store::clear_request`].

use std::{collections::BTreeMap, sync::Arc};

use serde_json::Value;
use sqlx::AnyPool;

use crate::report::{RunFailure, RunStatus, StepStatus};

pub use artifacts::ArtifactFilter;
pub use jobs::{Claimable, JobFilter, NewJob};
pub use lease::Released;

mod artifacts;
mod jobs;
mod lease;
mod open;
mod runs;
mod sql;
mod stats;
mod steps;
#[cfg(test)]
pub mod testing;
#[cfg(test)]
mod tests;

/// A handle on the store; cheap to clone (it wraps a connection pool).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where writes go: for SQLite a pool of one connection (see `open::connect`).
    writer: AnyPool,
    backend: Backend,
    /// The URL with its password replaced, the only spelling of it that messages may carry.
    display_url: Arc<str>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("url", &self.display_url)
            .finish_non_exhaustive()
    }
}

/// Which database a store lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (`sqlite://PATH`).
    Sqlite,
    /// A PostgreSQL database (`postgres://…`, `postgresql://…`).
    Postgres,
}

/// Why a store operation failed. URLs in it are always redacted (no password).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be opened (or created).
    #[error(
        "cannot open the store {store}: {source} (for sqlite://PATH, check that the directory can be created and written; for postgres://, that the server is running and reachable and that the user, password and database in the URL are right)"
    )]
    Open {
        /// The store's URL, redacted.
        store: String,
        /// What the driver said.
        source: sqlx::Error,
    },
    /// The SQLite file exists but cannot be used as it is: the message says what to do, and
    /// the file is left exactly as it was.
    #[error("cannot use the store {store}: {problem}{}", example(*.problem, .path))]
    Unusable {
        /// The store's URL.
        store: String,
        /// The file.
        path: String,
        /// What is wrong.
        problem: Unusable,
    },
    /// The schema could not be brought up to date.
    #[error(
        "cannot migrate the store {store}: {source} (a store written by a newer mcp-orchestrator, or whose migrations table was edited, cannot be used by this one)"
    )]
    Migrate {
        /// The store's URL, redacted.
        store: String,
        /// What the migrator said.
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("store query failed: {0}")]
    Db(#[from] sqlx::Error),
    /// The lease this write carried is no longer the run's: another worker took the run over.
    #[error("the lease on run {run_id} was lost (another worker took the run over); not writing")]
    StaleLease {
        /// The run.
        run_id: String,
    },
    /// A row does not parse (an unknown status text, JSON that is not JSON), or a write names a
    /// row that does not exist.
    #[error("the store holds data this version cannot read: {what}")]
    Corrupt {
        /// Which row and what is wrong with it.
        what: String,
    },
    /// The URL is neither SQLite nor PostgreSQL.
    #[error("unsupported store URL {store}: use sqlite://PATH, postgres://… or postgresql://…")]
    UnsupportedUrl {
        /// The URL, redacted.
        store: String,
    },
}

/// Why an SQLite store file cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// Not an SQLite database, or a damaged one.
    #[error(
        "the file is damaged or is not an SQLite database; nothing was changed. Move it aside to start with an empty store, restore it from a backup, or point orchestrator.store at another file"
    )]
    Damaged,
    /// The file or its directory cannot be written.
    #[error(
        "the file or its directory is read-only for this user; nothing was changed. Fix the permissions, or point orchestrator.store at a writable place"
    )]
    ReadOnly,
    /// The disk is full.
    #[error("the disk holding it is full; nothing was changed. Free some space and start again")]
    Full,
    /// The file cannot be opened (a directory, or a path that cannot be created).
    #[error(
        "the file cannot be opened or created: check that its directory exists and is writable by this user (a read-only directory gives this too) and that the path is not a directory"
    )]
    CannotOpen,
}

/// The command that moves a damaged store aside.
fn example(problem: Unusable, path: &str) -> String {
    match problem {
        Unusable::Damaged => format!(" (mv {path} {path}.broken)"),
        _ => String::new(),
    }
}

/// A control request on a run, recorded by anyone and acted on by the run's lease holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Start no new step until resumed.
    Pause,
    /// Continue a paused run.
    Resume,
    /// Stop the run and compensate its completed steps.
    Cancel,
}

impl Request {
    /// The stored spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "cancel",
        }
    }

    /// The request spelt `s`, if one is.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pause" => Some(Self::Pause),
            "resume" => Some(Self::Resume),
            "cancel" => Some(Self::Cancel),
            _ => None,
        }
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The right to drive one run, as [`Store::claim`] granted it; every fenced write carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The run.
    pub run_id: String,
    /// Who holds it (a worker's id).
    pub owner: String,
    /// The run's fence when it was claimed; a later claim increments it.
    pub fence: i64,
}

/// A workflow definition to store, keyed by the sha256 of its canonical form.
#[derive(Debug, Clone, Copy)]
pub struct NewDefinition<'a> {
    /// The sha256 (hex) of the canonical body.
    pub sha256: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its version string.
    pub version: &'a str,
    /// Its canonical form (JSON text).
    pub body: &'a str,
}

/// A stored workflow definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDefinition {
    /// The sha256 (hex) of the canonical body.
    pub sha256: String,
    /// Its name.
    pub name: String,
    /// Its version string.
    pub version: String,
    /// Its canonical form.
    pub body: String,
}

/// A run to create, pending, with every step pending.
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    /// The run id (a UUID).
    pub id: &'a str,
    /// The definition's name.
    pub workflow: &'a str,
    /// The sha256 of the definition the run is pinned to; stored beforehand with
    /// [`Store::put_definition`].
    pub definition_sha: &'a str,
    /// The run's input.
    pub input: &'a Value,
    /// Higher runs first.
    pub priority: i64,
    /// When the run must have ended (unix ms).
    pub deadline_at: Option<i64>,
    /// Step names in definition order.
    pub steps: &'a [&'a str],
    /// Unix milliseconds.
    pub now: i64,
    /// Claim it for this owner, until this time (unix ms), in the same write: a worker that
    /// drives what it stores saves a claim. The lease's fence is then 1.
    pub claim: Option<(&'a str, i64)>,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The run id.
    pub id: String,
    /// The definition's name.
    pub workflow: String,
    /// The sha256 of its definition.
    pub definition_sha: String,
    /// Its state.
    pub status: RunStatus,
    /// Its input.
    pub input: Value,
    /// Its output, once completed.
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// Higher runs first.
    pub priority: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When it first ran (unix ms).
    pub started_at: Option<i64>,
    /// When it ended (unix ms).
    pub finished_at: Option<i64>,
    /// When it must have ended (unix ms).
    pub deadline_at: Option<i64>,
    /// A control request not yet acted on.
    pub requested: Option<Request>,
    /// The worker holding its lease.
    pub owner: Option<String>,
    /// When that lease expires unless renewed (unix ms).
    pub lease_until: Option<i64>,
    /// Incremented by every claim.
    pub fence: i64,
}

/// A step of a run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// The step's name in the definition.
    pub name: String,
    /// Its index in definition order.
    pub position: i64,
    /// Its state.
    pub status: StepStatus,
    /// Calls made so far (retries included).
    pub attempts: u32,
    /// Its result, once completed.
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it (first) started (unix ms).
    pub started_at: Option<i64>,
    /// When it last reached an end state (unix ms).
    pub finished_at: Option<i64>,
    /// Its order of completion within the run, for reverse-order compensation.
    pub completed_seq: Option<i64>,
    /// The task id of a child's task running it.
    pub task_id: Option<String>,
}

/// Which runs [`Store::runs`] lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFilter {
    /// Only runs in this state.
    pub status: Option<RunStatus>,
    /// Only runs of this definition name.
    pub workflow: Option<String>,
    /// At most this many.
    pub limit: u32,
}

impl Default for RunFilter {
    fn default() -> Self {
        Self {
            status: None,
            workflow: None,
            limit: 100,
        }
    }
}

/// A fenced change of a run's state.
#[derive(Debug, Clone, Copy)]
pub struct RunUpdate<'a> {
    /// The new state.
    pub status: RunStatus,
    /// The run's output; left as is when `None`.
    pub output: Option<&'a Value>,
    /// Why it failed; left as is when `None`.
    pub error: Option<&'a str>,
    /// Unix milliseconds.
    pub now: i64,
}

/// A fenced change of a step's state.
#[derive(Debug, Clone, Copy)]
pub struct StepUpdate<'a> {
    /// The step.
    pub name: &'a str,
    /// The new state.
    pub status: StepStatus,
    /// Calls made so far; left as is when `None`.
    pub attempts: Option<u32>,
    /// Its result; left as is when `None`.
    pub output: Option<&'a Value>,
    /// Why it failed; left as is when `None`.
    pub error: Option<&'a str>,
    /// A child's task id; left as is when `None`.
    pub task_id: Option<&'a str>,
    /// Unix milliseconds.
    pub now: i64,
}

/// Figures over the store's whole history, for the status report.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStats {
    /// Runs by state (the state's text).
    pub totals: BTreeMap<String, u64>,
    /// Runs not yet ended.
    pub active: u64,
    /// Mean duration of ended runs (from start, or creation when never started, to end).
    pub average_duration_ms: Option<f64>,
    /// The most recently ended failed or compensated runs, newest first.
    pub last_failures: Vec<RunFailure>,
}

impl Store {
    /// Opens (creating when needed) the store at `url` and brings its schema up to date.
    ///
    /// `sqlite://PATH` creates the file and its directories; `postgres://` and `postgresql://`
    /// connect to an existing database.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let target = open::Target::parse(url)?;
        let (pool, writer) = open::connect(&target).await?;
        open::migrate(&writer, &target).await?;
        tracing::debug!(store = %target.display, "store opened");
        Ok(Store {
            pool,
            writer,
            backend: target.backend,
            display_url: target.display.into(),
        })
    }

    /// Which database the store lives in.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The store's URL with any password replaced by `***`.
    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    /// Whether the database answers (one trivial query through the writer, so a read-only or
    /// locked SQLite file shows too).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.writer).await?;
        Ok(())
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}
