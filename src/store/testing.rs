//! Stores for tests, on both backends: a fresh SQLite file, or a fresh database on a real
//! PostgreSQL server.
//!
//! The server is `MCP_TEST_POSTGRES_URL` when set (`scripts/test.sh` starts one for the whole
//! run), else a private cluster this test process starts once through `scripts/postgres.sh` and
//! that stops when the process exits. Each test gets its own database, so tests run in parallel.
//! A machine without PostgreSQL fails the tests that need it, saying how to install it: they are
//! never skipped silently.

use std::{
    path::{Path, PathBuf},
    process::{ChildStdin, Command, Stdio},
    sync::OnceLock,
};

use sqlx::{Connection, Executor};

/// Runs `async fn $case(url: String)` once per backend, as `$case::sqlite` and `$case::postgres`:
/// the store's and the engine's suites are the same cases on SQLite and on PostgreSQL.
macro_rules! both {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                super::$case($crate::store::testing::sqlite_url(&dir).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$case($crate::store::testing::postgres_url().await).await;
            }
        }
    )+};
}
pub(crate) use both;

/// The server every test of this process shares, or why there is none.
static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

struct Server {
    /// Its URL, on its maintenance database.
    url: String,
    /// The watchdog's stdin, held open for the life of the process: when the process exits the
    /// pipe closes and the watchdog stops the cluster. `None` for a server we did not start.
    _watchdog: Option<ChildStdin>,
}

/// The URL of a new, empty PostgreSQL database for one test.
///
/// # Panics
/// When no server can be had (PostgreSQL not installed, or it failed to start): the message says
/// what to do.
pub async fn postgres_url() -> String {
    let server = SERVER.get_or_init(server);
    let base = match server {
        Ok(server) => server.url.clone(),
        Err(why) => panic!("{why}"),
    };
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {base}: {e}"));
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
    let _ = conn.close().await;
    with_database(&base, &name)
}

/// The URL of a new SQLite store file inside `dir`.
pub async fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("store.db").display())
}

/// `base` with its database (the URL's path) replaced by `name`.
fn with_database(base: &str, name: &str) -> String {
    let (url, query) = match base.split_once('?') {
        Some((url, query)) => (url, Some(query)),
        None => (base, None),
    };
    let authority = url.find("://").map_or(0, |i| i + 3);
    let root = url[authority..]
        .find('/')
        .map_or(url.len(), |i| authority + i);
    let mut out = format!("{}/{name}", &url[..root]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// The shared server: the environment's, or a private cluster.
fn server() -> Result<Server, String> {
    if let Ok(url) = std::env::var("MCP_TEST_POSTGRES_URL")
        && !url.is_empty()
    {
        return Ok(Server {
            url,
            _watchdog: None,
        });
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/postgres.sh");
    // Short (the server's socket path lives in it), reachable by the `postgres` user when we
    // run as root (a private TMPDIR may not be), and unique to this process.
    let tmp = Path::new("/tmp");
    let tmp = if tmp.is_dir() {
        tmp.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = tmp.join(format!(
        "mcp-orch-pg-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    let started = Command::new("bash")
        .arg(&script)
        .arg("start")
        .env("PG_TEST_DIR", &dir)
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !started.status.success() {
        return Err(format!(
            "the store's tests need PostgreSQL and could not start it ({}); install it with \
             `scripts/setup-system.sh test` (or point MCP_TEST_POSTGRES_URL at a server):\n{}",
            started.status,
            String::from_utf8_lossy(&started.stderr)
        ));
    }
    let url = String::from_utf8_lossy(&started.stdout).trim().to_owned();
    // The watchdog ignores the terminal's interrupt (so Ctrl-C on the tests still cleans up),
    // waits for its stdin to close, which happens when this process exits however it exits, and
    // stops the cluster.
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(r#"trap '' INT TERM HUP; cat >/dev/null; exec bash "$0" stop"#)
        .arg(&script)
        .env("PG_TEST_DIR", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the PostgreSQL watchdog: {e}"))?;
    let stdin = watchdog
        .stdin
        .take()
        .ok_or("the PostgreSQL watchdog has no stdin")?;
    Ok(Server {
        url,
        _watchdog: Some(stdin),
    })
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_is_swapped_keeping_the_rest() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h:5?sslmode=disable", "t1"),
            "postgres://u:p@h:5/t1?sslmode=disable"
        );
    }
}
