//! The fleet's processes: `serve --http` replicas and haproxy running the shipped recipe, each
//! on a port the bench picks, logging to a file; killed (SIGKILL) when dropped. A SIGKILLed
//! replica takes its fixture child with it (the orchestrator sets `PR_SET_PDEATHSIG`).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use tokio::process::Child;

use super::http::Conn;

/// The replicas' bearer token (the recipe's deployments set one; its check is on the path).
pub const TOKEN: &str = "router-bench-fleet-token-0123";

/// A port nothing listens on now (the window until the server binds it is small).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Whether a replica can get a UTS namespace (and so a host name) of its own: as on separate
/// machines, a survivor cannot judge a dead replica by its pid and waits its lease out.
pub fn uts_namespaces() -> bool {
    std::process::Command::new("unshare")
        .args(["--uts", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `haproxy` on PATH, else Debian's /usr/sbin/haproxy.
pub fn find_haproxy(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given {
        return Some(p.to_owned());
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("haproxy"))
        .find(|p| p.is_file())
}

/// One `serve --no-watch --http 127.0.0.1:<port>` replica.
pub struct Replica {
    pub name: String,
    pub port: u16,
    pub pid: u32,
    child: Child,
}

impl Replica {
    /// Starts it on `config` with runtime and state dirs of its own under `dir` (as on its own
    /// machine); with `hostname`, in a UTS namespace of its own under that name (`unshare` execs
    /// `sh`, which execs `serve`: the pid is serve's). Waits until `/health/ready` answers 200.
    pub async fn start(
        orchestrator: &Path,
        config: &Path,
        dir: &Path,
        name: &str,
        hostname: Option<&str>,
        log: &Path,
    ) -> Result<Self> {
        let port = free_port()?;
        let run = dir.join(name);
        std::fs::create_dir_all(run.join("state"))?;
        let listen = format!("127.0.0.1:{port}");
        let serve = [
            "--config",
            config.to_str().context("utf-8 path")?,
            "serve",
            "--no-watch",
            "--http",
            &listen,
        ];
        let mut cmd = match hostname {
            Some(host) => {
                let mut c = tokio::process::Command::new("unshare");
                c.args(["--uts", "sh", "-c", r#"hostname "$0" && exec "$@""#, host])
                    .arg(orchestrator)
                    .args(serve);
                c
            }
            None => {
                let mut c = tokio::process::Command::new(orchestrator);
                c.args(serve);
                c
            }
        };
        let stderr = std::fs::File::create(log).with_context(|| log.display().to_string())?;
        let child = cmd
            .env("MCP_ORCHESTRATOR_HTTP_TOKEN", TOKEN)
            .env("XDG_RUNTIME_DIR", &run)
            .env("XDG_STATE_HOME", run.join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .context("spawn serve --http")?;
        let pid = child.id().context("replica pid")?;
        let mut replica = Self {
            name: name.to_owned(),
            port,
            pid,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut conn = Conn::new(port);
        loop {
            if let Ok(r) = conn.request("GET", "/health/ready", "", b"").await
                && r.status == 200
            {
                return Ok(replica);
            }
            if let Ok(Some(status)) = replica.child.try_wait() {
                bail!(
                    "replica {name} exited ({status}) before it was ready; log in {}",
                    log.display()
                );
            }
            if Instant::now() > deadline {
                bail!("replica {name} never ready; log in {}", log.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, and wait until it is gone.
    pub async fn kill(&mut self) -> Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }
}

/// HAProxy on the shipped recipe.
pub struct Haproxy {
    pub port: u16,
    pub pid: u32,
    /// Its stderr: alerts and server state changes only (the request log, one line per request
    /// from the recipe's `log stdout`, goes to another file, so this one stays small to poll).
    alerts: PathBuf,
    _child: Child,
}

impl Haproxy {
    /// The recipe with our port on its `bind` line and the replicas on its `server` lines
    /// (named mcp1, mcp2, … in order), everything else as shipped. tests/integration/fleet.rs
    /// rewrites it the same way.
    fn config(recipe: &str, port: u16, replicas: &[&Replica]) -> Result<String> {
        let mut out = String::new();
        let mut servers_written = false;
        for line in recipe.lines() {
            let t = line.trim_start();
            if t.starts_with("bind ") {
                out.push_str(&format!("    bind 127.0.0.1:{port}\n"));
            } else if t.starts_with("server ") {
                if !servers_written {
                    for r in replicas {
                        out.push_str(&format!("    server {} 127.0.0.1:{}\n", r.name, r.port));
                    }
                    servers_written = true;
                }
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        if !servers_written {
            bail!("the haproxy recipe has no `server` line");
        }
        Ok(out)
    }

    /// Checks the config (`haproxy -c`), runs it in the foreground (`-db`, its request log to
    /// `log`, its stderr beside it as `*.err`) and waits until every replica has answered a
    /// readiness probe through it.
    pub async fn start(
        bin: &Path,
        recipe: &Path,
        dir: &Path,
        replicas: &[&Replica],
        log: &Path,
    ) -> Result<Self> {
        let port = free_port()?;
        let recipe_text = std::fs::read_to_string(recipe)
            .with_context(|| format!("read {}", recipe.display()))?;
        let cfg = dir.join(format!("haproxy-{}.cfg", replicas.len()));
        std::fs::write(&cfg, Self::config(&recipe_text, port, replicas)?)?;
        let check = tokio::process::Command::new(bin)
            .arg("-c")
            .arg("-f")
            .arg(&cfg)
            .output()
            .await
            .context("run haproxy -c")?;
        if !check.status.success() {
            bail!(
                "haproxy -c refuses {}: {}{}",
                cfg.display(),
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            );
        }
        let alerts = log.with_extension("err");
        let child = tokio::process::Command::new(bin)
            .arg("-f")
            .arg(&cfg)
            .arg("-db")
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(log)?))
            .stderr(Stdio::from(std::fs::File::create(&alerts)?))
            .kill_on_drop(true)
            .spawn()
            .context("spawn haproxy")?;
        let pid = child.id().context("haproxy pid")?;
        let lb = Self {
            port,
            pid,
            alerts,
            _child: child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = BTreeSet::new();
        let mut conn = Conn::new(port);
        while seen.len() < replicas.len() {
            if let Ok(r) = conn.request("GET", "/health/ready", "", b"").await
                && r.status == 200
                && let Some(name) = r.replica
            {
                seen.insert(name);
            }
            if Instant::now() > deadline {
                bail!(
                    "haproxy never reached every replica (saw {seen:?}); log in {}",
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(lb)
    }

    /// Whether haproxy has logged `server`'s health check taking it out.
    pub fn logged_down(&self, server: &str) -> bool {
        std::fs::read_to_string(&self.alerts)
            .is_ok_and(|l| l.contains(&format!("Server orchestrators/{server} is DOWN")))
    }
}
