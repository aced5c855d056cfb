//! The run's context: the arguments, the working directory, and the builders for what gets
//! started (children, an orchestrator config, a fastmcp config) and where each logs.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::{args::Args, server::Spec};

pub struct Ctx {
    pub args: Args,
    /// Holds `config/`, `logs/` and `run/`.
    pub dir: PathBuf,
    log_n: AtomicUsize,
}

impl Ctx {
    /// Creates the working directory (`--workdir`, or a fresh one under the temp dir).
    pub fn new(args: Args) -> Result<Self> {
        let dir = match &args.workdir {
            Some(d) => d.clone(),
            None => std::env::temp_dir().join(format!("router-bench-{}", std::process::id())),
        };
        for sub in ["config", "logs", "run"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        Ok(Self {
            args,
            dir,
            log_n: 0.into(),
        })
    }

    /// A fresh stderr log path for a server called `name`, numbered in start order.
    pub fn log(&self, name: &str) -> PathBuf {
        let n = self.log_n.fetch_add(1, Ordering::Relaxed);
        // Not next to the configs: the orchestrator watches its config's directory, and its own
        // log writes there would wake that watch on every call.
        self.dir.join("logs").join(format!("{n:03}-{name}.log"))
    }

    pub fn fixture(&self, args: &[&str]) -> Spec {
        Spec::new(&self.args.fixture, args)
    }

    pub fn everything(&self) -> Option<Spec> {
        self.args
            .everything
            .as_ref()
            .map(|p| Spec::new(p, &["stdio"]))
    }

    /// `child` behind the bare relay (the floor column), if there is a relay binary: `--relay`,
    /// or `router-bench-relay` next to this binary.
    pub fn relay(&self, child: &Spec) -> Option<Spec> {
        let relay = self.args.relay.clone().or_else(|| {
            let p = std::env::current_exe()
                .ok()?
                .with_file_name("router-bench-relay");
            p.exists().then_some(p)
        })?;
        let mut spec = Spec::new(&relay, &[]);
        spec.args.push(child.program.to_string_lossy().into_owned());
        spec.args.extend(child.args.iter().cloned());
        Some(spec)
    }

    /// The five children behind the orchestrator and the peer in the load phase.
    pub fn five(&self) -> Vec<(&'static str, Spec)> {
        let mut v = vec![("fixture", self.fixture(&[]))];
        match self.everything() {
            Some(e) => v.push(("everything", e)),
            None => v.push(("spare2", self.fixture(&[]))),
        }
        v.push((
            "vendor_a",
            self.fixture(&["--vendor", "a", "--mode", "unavailable"]),
        ));
        v.push(("vendor_b", self.fixture(&["--vendor", "b"])));
        v.push(("spare", self.fixture(&[])));
        v
    }

    /// Five fixture children: the orchestrator's own start-up cost without slow children.
    pub fn five_fixtures(&self) -> Vec<(&'static str, Spec)> {
        ["fx1", "fx2", "fx3", "fx4", "fx5"]
            .into_iter()
            .map(|id| (id, self.fixture(&[])))
            .collect()
    }

    /// A child's entry in a config file; both config formats take this shape.
    fn entry(spec: &Spec) -> Value {
        json!({ "command": spec.program, "args": spec.args })
    }

    fn write(&self, name: &str, v: &Value) -> Result<PathBuf> {
        let path = self.dir.join("config").join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(v)?)?;
        Ok(path)
    }

    /// `serve` on these children. Unified `chat` falls back vendor_a → vendor_b; one try per
    /// vendor and no circuit breaker, so every call takes the fallback path.
    pub fn orchestrator(&self, name: &str, children: &[(&str, Spec)]) -> Result<Spec> {
        self.orchestrator_pinned(name, children, None)
    }

    /// [`Ctx::orchestrator`] with every child's `"protocol"` set to `protocol` (`None`: left out,
    /// so the default `auto` applies). `legacy` keeps a dual-era child in the handshake era, the
    /// one the forwarding fast path serves.
    pub fn orchestrator_pinned(
        &self,
        name: &str,
        children: &[(&str, Spec)],
        protocol: Option<&str>,
    ) -> Result<Spec> {
        let servers: serde_json::Map<String, Value> = children
            .iter()
            .map(|(id, s)| {
                let mut e = Self::entry(s);
                if let Some(p) = protocol {
                    e["protocol"] = json!(p);
                }
                ((*id).to_owned(), e)
            })
            .collect();
        let mut cfg = json!({ "servers": servers });
        if children.iter().any(|(id, _)| *id == "vendor_a") {
            cfg["routing"] = json!({ "chat": ["vendor_a", "vendor_b"] });
            cfg["orchestrator"] =
                json!({ "retry_attempts": 1, "breaker_min_calls": 1_000_000_000u32 });
        }
        let path = self.write(&format!("{name}.json"), &cfg)?;
        Ok(Spec::new(
            &self.args.orchestrator,
            &["--config", path.to_str().context("utf-8 path")?, "serve"],
        )
        // The control socket goes in our working directory, not the user's runtime dir.
        .env("XDG_RUNTIME_DIR", self.dir.join("run").to_string_lossy()))
    }

    /// `fastmcp run` on an `mcpServers` file with these children (a composite stdio proxy).
    pub fn peer(&self, name: &str, children: &[(&str, Spec)]) -> Result<Option<Spec>> {
        let Some(fastmcp) = &self.args.fastmcp else {
            return Ok(None);
        };
        let servers: serde_json::Map<String, Value> = children
            .iter()
            .map(|(id, s)| ((*id).to_owned(), Self::entry(s)))
            .collect();
        let path = self.write(&format!("{name}.json"), &json!({ "mcpServers": servers }))?;
        Ok(Some(
            Spec::new(
                fastmcp,
                &[
                    "run",
                    path.to_str().context("utf-8 path")?,
                    "--no-banner",
                    "--log-level",
                    "WARNING",
                ],
            )
            .env("FASTMCP_LOG_LEVEL", "WARNING")
            .env("FASTMCP_SHOW_CLI_BANNER", "false"),
        ))
    }
}
