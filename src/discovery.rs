//! Finding remote servers besides the config file (`orchestrator.discovery`): environment
//! variables, DNS SRV records, Kubernetes Services. Each source reports its whole current set to
//! the registry, which merges it with the file's servers and applies the difference like a hot
//! reload (see `crate::registry::discovered`).
//!
//! - [`env`]: `MCP_SERVER_<ID>_URL` variables, read once;
//! - [`srv`] and [`dns`]: SRV records → servers, re-resolved every `interval`;
//! - [`service`] and [`kubernetes`]: labelled Services → servers, listed then watched;
//! - [`schedule`]: when a source asks again (sooner after a failure).
//!
//! One task follows the config in force: a source that appears starts, one whose settings
//! change restarts (its set stays until the new one answers), one that disappears stops and its
//! servers leave.

mod dns;
mod env;
mod kubernetes;
mod schedule;
mod service;
mod srv;

use std::{
    collections::BTreeMap,
    sync::{Arc, Weak},
    time::Duration,
};

use tokio_util::sync::CancellationToken;

use self::schedule::Schedule;
use crate::{
    config::{
        ServerSpec,
        discovery::{DiscoveryConfig, DnsDiscovery, KubernetesDiscovery},
        found::Found,
    },
    registry::Registry,
    report::ServerSource,
};

/// How often the config in force is compared with the sources running: a reload swaps it, and
/// a second is soon enough for a source to follow.
const CONFIG_POLL: Duration = Duration::from_secs(1);

/// Why a source could not answer this time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The resolver could not be set up (e.g. an unreadable `/etc/resolv.conf`).
    #[error("cannot set up the DNS resolver: {0}")]
    Resolver(String),
    /// A DNS query failed (timeout, refused, server failure).
    #[error("DNS query for {name} failed: {message}")]
    Query {
        /// The name asked for.
        name: String,
        /// The resolver's message.
        message: String,
    },
    /// Some entries could not be used; the others were.
    #[error("{}", .0.join("; "))]
    Entries(Vec<String>),
    /// The Kubernetes client could not be set up (no cluster, a bad `api_url`, no token).
    #[error("cannot set up the Kubernetes client: {0}")]
    Client(String),
    /// Listing or watching the Services failed.
    #[error("watching Services `{selector}` in namespace {namespace} failed: {message}")]
    Watch {
        /// The namespace watched.
        namespace: String,
        /// The label selector.
        selector: String,
        /// kube's message.
        message: String,
    },
}

/// One source's settings, compared to tell whether it must restart.
#[derive(Debug, Clone, PartialEq)]
enum SourceConfig {
    Env,
    Dns(DnsDiscovery),
    Kubernetes(KubernetesDiscovery),
}

impl SourceConfig {
    fn of(cfg: &DiscoveryConfig, source: ServerSource) -> Option<Self> {
        match source {
            ServerSource::Env if cfg.env => Some(Self::Env),
            ServerSource::Dns => cfg.dns.clone().map(Self::Dns),
            ServerSource::Kubernetes => cfg.kubernetes.clone().map(Self::Kubernetes),
            _ => None,
        }
    }
}

/// Starts following `orchestrator.discovery` on the registry's task tracker; the task ends with
/// the registry's shutdown.
pub fn start(registry: &Arc<Registry>) {
    let weak = Arc::downgrade(registry);
    let stop = registry.shutdown_token().clone();
    registry.tracker().spawn(follow_config(weak, stop));
}

async fn follow_config(registry: Weak<Registry>, stop: CancellationToken) {
    let mut running: BTreeMap<ServerSource, (SourceConfig, CancellationToken)> = BTreeMap::new();
    loop {
        let Some(reg) = registry.upgrade() else {
            return;
        };
        let wanted = reg.config().settings.discovery.clone();
        for source in ServerSource::DISCOVERED {
            let want = SourceConfig::of(&wanted, source);
            if running.get(&source).map(|(c, _)| c) == want.as_ref() {
                continue;
            }
            if let Some((_, token)) = running.remove(&source) {
                token.cancel();
            }
            match want {
                Some(cfg) => {
                    let token = stop.child_token();
                    tracing::info!(%source, "discovery started");
                    reg.tracker().spawn(run_source(
                        registry.clone(),
                        source,
                        cfg.clone(),
                        token.clone(),
                    ));
                    running.insert(source, (cfg, token));
                }
                None => {
                    tracing::info!(%source, "discovery stopped; its servers leave");
                    reg.discovery_ended(source).await;
                }
            }
        }
        drop(reg);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(CONFIG_POLL) => {}
        }
    }
}

/// One source until `stop`: env once, DNS every interval, Kubernetes as its watch says.
async fn run_source(
    registry: Weak<Registry>,
    source: ServerSource,
    cfg: SourceConfig,
    stop: CancellationToken,
) {
    match cfg {
        SourceConfig::Env => {
            let (found, problems) = env::servers(std::env::vars());
            let problems = (!problems.is_empty()).then_some(DiscoveryError::Entries(problems));
            report(&registry, source, Ok(found), &stop).await;
            if let (Some(e), Some(reg)) = (problems, registry.upgrade()) {
                reg.discovery_failed(source, e.to_string());
            }
        }
        SourceConfig::Kubernetes(cfg) => kubernetes::run(registry, cfg, stop).await,
        SourceConfig::Dns(cfg) => {
            let dns = match dns::Dns::new(&cfg) {
                Ok(d) => d,
                Err(e) => {
                    report(&registry, source, Err(e), &stop).await;
                    return;
                }
            };
            let mut schedule = Schedule::new(cfg.interval);
            let mut last_problems = Vec::new();
            loop {
                let outcome = dns.records().await.map(|records| {
                    let (found, problems) = srv::servers(&records, &cfg);
                    // Said when they change, not on every round.
                    if problems != last_problems {
                        for p in &problems {
                            tracing::warn!(%source, problem = %p, "SRV record skipped");
                        }
                        last_problems = problems;
                    }
                    found
                });
                let wait = if outcome.is_ok() {
                    schedule.after_success()
                } else {
                    schedule.after_failure(fastrand::f64())
                };
                if !report(&registry, source, outcome, &stop).await {
                    return;
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Hands one outcome to the registry; `false` once the source should end (stopped, or the
/// registry is gone).
async fn report(
    registry: &Weak<Registry>,
    source: ServerSource,
    outcome: Result<Vec<Found>, DiscoveryError>,
    stop: &CancellationToken,
) -> bool {
    let Some(reg) = registry.upgrade() else {
        return false;
    };
    if stop.is_cancelled() {
        return false;
    }
    match outcome {
        Ok(found) => {
            let specs = found
                .into_iter()
                .map(|f| ServerSpec::discovered(source, f))
                .collect();
            // Not raced with `stop`: a reload cut short could leave children stopped but not
            // replaced. It is bounded by the drain and settle limits.
            reg.discovered(source, specs).await;
        }
        Err(e) => reg.discovery_failed(source, e.to_string()),
    }
    true
}
