//! Opening a store: the URL (which backend, the password kept out of every message), the
//! connection pool, and the embedded schema migrations.

use std::{borrow::Cow, future::Future, path::PathBuf, pin::Pin, str::FromStr, time::Duration};

use sqlx::{
    AnyPool, ConnectOptions, Connection, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::{Migration, MigrationSource, MigrationType, Migrator},
    sqlite::{SqliteConnectOptions, SqliteJournalMode},
};

use super::{Backend, StoreError};

/// SQLite's readers: a few connections serve concurrent reads (WAL never blocks them on the
/// writer, which has its own pool of one).
const SQLITE_POOL: u32 = 6;
/// Enough for a replica's concurrent runs without crowding a server shared by several replicas.
const POSTGRES_POOL: u32 = 10;
/// How long a writer waits for SQLite's write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long opening waits for the first connection: a server that does not answer by then is a
/// start-up error, not a hang.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema, per dialect, embedded so the binary needs no files beside it. Append only: an
/// applied migration's text is checksummed, and changing it makes every existing store refuse.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "jobs_artifacts",
        include_str!("../../migrations/sqlite/0002_jobs_artifacts.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "jobs_artifacts",
        include_str!("../../migrations/postgres/0002_jobs_artifacts.sql"),
    ),
];

/// A parsed store URL. Deliberately not `Debug`: `url` holds the password.
pub(super) struct Target {
    pub(super) backend: Backend,
    /// What sqlx connects to.
    url: String,
    /// The URL for messages: password replaced.
    pub(super) display: String,
    /// The password as written, to scrub from driver messages that might echo it.
    password: Option<String>,
    /// SQLite: the database file.
    path: Option<PathBuf>,
}

impl Target {
    /// Recognises the backend from the scheme.
    pub(super) fn parse(url: &str) -> Result<Target, StoreError> {
        let display = redact(url);
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("sqlite:") {
            // `sqlite://PATH`, also `sqlite:PATH` as sqlx spells it; the prefix is ASCII.
            let rest = &url["sqlite:".len()..];
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            return Ok(Target {
                backend: Backend::Sqlite,
                url: String::new(),
                display,
                password: None,
                path: Some(PathBuf::from(rest)),
            });
        }
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(Target {
                backend: Backend::Postgres,
                url: url.to_owned(),
                display,
                password: password(url).filter(|p| !p.is_empty()),
                path: None,
            });
        }
        Err(StoreError::UnsupportedUrl { store: display })
    }

    fn open_error(&self, source: sqlx::Error) -> StoreError {
        if self.backend == Backend::Sqlite
            && let Some(problem) = sqlite_problem(&source)
        {
            return StoreError::Unusable {
                store: self.display.clone(),
                path: self
                    .display
                    .strip_prefix("sqlite://")
                    .unwrap_or(&self.display)
                    .split('?')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                problem,
            };
        }
        StoreError::Open {
            store: self.display.clone(),
            source: scrub(source, self.password.as_deref()),
        }
    }
}

/// What an SQLite open failure means for the user, when it is one of the failures with a
/// remedy of its own (by SQLite's primary result codes: CORRUPT 11, NOTADB 26, READONLY 8,
/// CANTOPEN 14, FULL 13).
fn sqlite_problem(e: &sqlx::Error) -> Option<super::Unusable> {
    let code = e.as_database_error()?.code()?;
    let primary = code.parse::<i64>().ok()? & 0xff;
    Some(match primary {
        11 | 26 => super::Unusable::Damaged,
        8 => super::Unusable::ReadOnly,
        13 => super::Unusable::Full,
        14 => super::Unusable::CannotOpen,
        _ => return None,
    })
}

/// A pool on the target, after one direct connection has proved it reachable: the pool itself
/// retries a refused connection until its acquire timeout and then says only "timed out".
/// Returns the pool for reads and the pool for writes: for SQLite the writes get their own pool of
/// one connection (SQLite has one writer at a time; several connections racing for the write lock
/// spin in `busy_timeout` sleeps, while one connection queues writers in order, asynchronously);
/// for PostgreSQL both are the same pool.
pub(super) async fn connect(target: &Target) -> Result<(AnyPool, AnyPool), StoreError> {
    sqlx::any::install_default_drivers();
    let (url, size) = match target.backend {
        Backend::Sqlite => (prepare_sqlite(target).await?, SQLITE_POOL),
        Backend::Postgres => (target.url.clone(), POSTGRES_POOL),
    };
    let options = AnyConnectOptions::from_str(&url).map_err(|e| target.open_error(e))?;
    let probe = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
        .await
        .map_err(|_| target.open_error(sqlx::Error::PoolTimedOut))?
        .map_err(|e| target.open_error(e))?;
    // Closing politely is a courtesy; the pool's own first connection is what counts.
    let _ = probe.close().await;

    let reads = pool_of(target, &options, size).await?;
    let writes = match target.backend {
        Backend::Sqlite => pool_of(target, &options, 1).await?,
        Backend::Postgres => reads.clone(),
    };
    Ok((reads, writes))
}

async fn pool_of(
    target: &Target,
    options: &AnyConnectOptions,
    size: u32,
) -> Result<AnyPool, StoreError> {
    let mut pool = AnyPoolOptions::new().max_connections(size);
    if target.backend == Backend::Sqlite {
        // sqlx's SQLite defaults already say the first two; stated here because the store relies
        // on them (writers wait rather than fail; steps and events cannot outlive their run).
        // `synchronous = NORMAL` in WAL mode: a commit survives the process being killed (the
        // orchestrator's crash, which resume is about), and is synced at checkpoints rather than
        // on every commit; a power cut may lose the last commits, never corrupt the file.
        pool = pool.after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
                     PRAGMA synchronous = NORMAL",
                )
                .await
                .map(|_| ())
            })
        });
    }
    pool.connect_with(options.clone())
        .await
        .map_err(|e| target.open_error(e))
}

/// Creates the file and its directories and switches it to WAL (readers do not block the
/// writer), once: the mode is kept in the file, so the pool's connections need not ask for the
/// exclusive lock that setting it takes. Returns the URL for sqlx, with the path made absolute.
async fn prepare_sqlite(target: &Target) -> Result<String, StoreError> {
    let config = |what: String| target.open_error(sqlx::Error::Configuration(what.into()));
    let path = target
        .path
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| config("the URL names no file (sqlite://PATH)".into()))?;
    let absolute = std::path::absolute(path).map_err(|e| target.open_error(e.into()))?;
    if let Some(dir) = absolute.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| config(format!("cannot create {}: {e}", dir.display())))?;
    }
    let conn = SqliteConnectOptions::new()
        .filename(&absolute)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true)
        .connect()
        .await
        .map_err(|e| target.open_error(e))?;
    // Nothing was written but the journal mode; a failed close changes nothing.
    let _ = conn.close().await;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        percent_encode(&absolute.to_string_lossy())
    ))
}

/// Applies the embedded migrations not yet applied (`_sqlx_migrations` tracks them; on
/// PostgreSQL an advisory lock keeps replicas opening at once from racing).
pub(super) async fn migrate(pool: &AnyPool, target: &Target) -> Result<(), StoreError> {
    let source = Embedded(match target.backend {
        Backend::Sqlite => SQLITE_MIGRATIONS,
        Backend::Postgres => POSTGRES_MIGRATIONS,
    });
    let wrap = |source| StoreError::Migrate {
        store: target.display.clone(),
        source,
    };
    let migrator = Migrator::new(source).await.map_err(wrap)?;
    if target.backend == Backend::Postgres {
        return migrator.run(pool).await.map_err(wrap);
    }
    // SQLite has no migration lock: a second process creating the same new file at the same
    // moment finds a migration's tables made under it and fails; looking again, it sees that
    // migration recorded and goes on to the next, where it may meet the other process again.
    // Each retry gets past at least one migration, so as many retries as migrations suffice.
    let mut tries = SQLITE_MIGRATIONS.len() + 1;
    loop {
        match migrator.run(pool).await {
            Err(_) if tries > 1 => {
                tries -= 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            done => return done.map_err(wrap),
        }
    }
}

/// Migrations compiled into the binary, as sqlx's migrator takes them.
#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send>>
    {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(std::future::ready(Ok(migrations)))
    }
}

/// The URL with the password (in the user info, or a `password=` parameter) replaced by `***`.
pub(super) fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some((start, end)) = password_span(url) {
        out.replace_range(start..end, "***");
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// The password of a `scheme://user:password@host…` URL, as written.
fn password(url: &str) -> Option<String> {
    let from_userinfo = password_span(url).map(|(s, e)| url[s..e].to_owned());
    let from_query = url.split_once('?').and_then(|(_, query)| {
        query.split('&').find_map(|pair| {
            pair.split_once('=')
                .filter(|(k, _)| k.eq_ignore_ascii_case("password"))
                .map(|(_, v)| v.to_owned())
        })
    });
    from_userinfo.or(from_query)
}

/// Where the password sits in `scheme://user:password@host…`.
fn password_span(url: &str) -> Option<(usize, usize)> {
    let authority_start = url.find("://")? + 3;
    let rest = &url[authority_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    // The last `@` ends the user info: a password may itself contain `@` unescaped.
    let at = rest[..authority_end].rfind('@')?;
    let colon = rest[..at].find(':')?;
    Some((authority_start + colon + 1, authority_start + at))
}

/// A driver error with the password taken out of its text, should the driver have echoed the
/// URL: the message is what reaches logs and users.
fn scrub(error: sqlx::Error, password: Option<&str>) -> sqlx::Error {
    let Some(password) = password else {
        return error;
    };
    let (shown, debug) = (error.to_string(), format!("{error:?}"));
    if shown.contains(password) || debug.contains(password) {
        sqlx::Error::Configuration(shown.replace(password, "***").into())
    } else {
        error
    }
}

/// Percent-encodes a path for a URL, so sqlx reads back exactly this path (it decodes).
fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_the_password_wherever_it_is() {
        assert_eq!(
            redact("postgres://u:s3cret@127.0.0.1:1/db"),
            "postgres://u:***@127.0.0.1:1/db"
        );
        assert_eq!(
            redact("postgresql://u:p@ss@h/db?sslmode=require&password=x"),
            "postgresql://u:***@h/db?sslmode=require&password=***"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
        assert_eq!(
            password("postgres://u:s3cret@h/db").as_deref(),
            Some("s3cret")
        );
        assert_eq!(password("postgres://h/db?password=x").as_deref(), Some("x"));
    }

    #[test]
    fn paths_survive_the_url() {
        assert_eq!(percent_encode("/a b/c?#%.db"), "/a%20b/c%3F%23%25.db");
    }
}
