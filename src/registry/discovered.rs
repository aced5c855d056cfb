//! Servers found by discovery sources, merged with the config file's.
//!
//! The registry keeps the file's config as read and, per source, the last good set it reported.
//! The config in force is their merge: the file's servers first (they win an id collision, with a
//! warning), then each source's in precedence order (`env`, `dns`, `kubernetes`). A change of a
//! set is applied like a hot reload: joiners start, leavers drain and stop, and the host hears
//! one `list_changed`. A failing source keeps its last good set; `status` shows its error and
//! the age of that set.

use std::{collections::BTreeMap, sync::Arc};

use tokio::time::Instant;

use super::{Registry, reload::ReloadSummary};
use crate::{
    config::{Config, ServerSpec},
    report::{DiscoveryReport, ServerSource},
};

/// The file's config and every source's last good set.
pub(crate) struct Discovered {
    /// The config as read from the file, before discovered servers are merged in.
    file: Arc<Config>,
    sources: BTreeMap<ServerSource, SourceState>,
}

/// One source's state.
#[derive(Debug, Default)]
struct SourceState {
    /// Its last good set, sorted by id.
    servers: Vec<ServerSpec>,
    /// When it last answered.
    last_good: Option<Instant>,
    /// Why its last attempt failed, until one succeeds.
    error: Option<String>,
    /// Its ids another definition took, at the last merge.
    shadowed: Vec<String>,
}

impl Discovered {
    pub(crate) fn new(file: Arc<Config>) -> Self {
        Self {
            file,
            sources: BTreeMap::new(),
        }
    }

    /// The file's config with every source's servers appended; records, per source, the ids
    /// that were taken and warns of those newly so.
    fn merge(&mut self) -> Config {
        let mut merged = (*self.file).clone();
        for (source, state) in &mut self.sources {
            let mut shadowed = Vec::new();
            for spec in &state.servers {
                if let Some(owner) = merged.server(&spec.id) {
                    shadowed.push(spec.id.clone());
                    if !state.shadowed.contains(&spec.id) {
                        tracing::warn!(
                            server = %spec.id,
                            %source,
                            kept = %owner.source,
                            "a discovered server has the id of another definition; that one is kept"
                        );
                    }
                } else {
                    merged.servers.push(spec.clone());
                }
            }
            state.shadowed = shadowed;
        }
        merged
    }
}

/// A set as a source reported it: sorted by id, duplicates dropped (the first kept), so that
/// comparing two sets does not depend on the order of records.
fn normalized(mut servers: Vec<ServerSpec>) -> Vec<ServerSpec> {
    servers.sort_by(|a, b| a.id.cmp(&b.id));
    servers.dedup_by(|b, a| a.id == b.id);
    servers
}

impl Registry {
    /// Merges the discovered sets into `file` (a newly read config; `None`: the one in force).
    /// The caller holds `reload_lock`.
    pub(super) fn merge_discovered(&self, file: Option<Config>) -> Config {
        let mut d = self.discovered.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = file {
            d.file = Arc::new(file);
        }
        d.merge()
    }

    /// A source's answer: its whole current set. Applied like a reload when the set changed;
    /// returns what the reload did, or `None` when nothing changed.
    pub async fn discovered(
        self: &Arc<Self>,
        source: ServerSource,
        servers: Vec<ServerSpec>,
    ) -> Option<ReloadSummary> {
        let servers = normalized(servers);
        let _one_at_a_time = self.reload_lock.lock().await;
        let merged = {
            let mut d = self.discovered.lock().unwrap_or_else(|e| e.into_inner());
            let state = d.sources.entry(source).or_default();
            if state.error.take().is_some() {
                tracing::info!(%source, "discovery answers again");
            }
            state.last_good = Some(Instant::now());
            if state.servers == servers {
                return None;
            }
            state.servers = servers;
            d.merge()
        };
        let summary = self.apply_locked(merged).await;
        tracing::info!(%source, added = ?summary.added, removed = ?summary.removed, changed = ?summary.changed, "discovered servers changed");
        Some(summary)
    }

    /// A source's failed attempt: its last good set stays in force.
    pub fn discovery_failed(&self, source: ServerSource, error: String) {
        let mut d = self.discovered.lock().unwrap_or_else(|e| e.into_inner());
        let state = d.sources.entry(source).or_default();
        // Said once per new message, not on every retry.
        if state.error.as_deref() != Some(error.as_str()) {
            tracing::warn!(%source, %error, kept = state.servers.len(), "discovery failed; keeping the last good set");
        }
        state.error = Some(error);
    }

    /// A source that is no longer configured: its servers leave.
    pub async fn discovery_ended(self: &Arc<Self>, source: ServerSource) -> Option<ReloadSummary> {
        let _one_at_a_time = self.reload_lock.lock().await;
        let merged = {
            let mut d = self.discovered.lock().unwrap_or_else(|e| e.into_inner());
            let had = d.sources.remove(&source)?;
            if had.servers.is_empty() {
                return None;
            }
            d.merge()
        };
        Some(self.apply_locked(merged).await)
    }

    /// Every source that has reported, for `status`.
    pub fn discovery_reports(&self) -> Vec<DiscoveryReport> {
        let d = self.discovered.lock().unwrap_or_else(|e| e.into_inner());
        d.sources
            .iter()
            .map(|(source, s)| DiscoveryReport {
                source: *source,
                servers: s.servers.iter().map(|s| s.id.clone()).collect(),
                last_good_age_s: s
                    .last_good
                    .map(|t| (t.elapsed().as_secs_f64() * 10.0).round() / 10.0),
                error: s.error.clone(),
                shadowed: s.shadowed.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::found::Found;

    fn found(source: ServerSource, id: &str) -> ServerSpec {
        ServerSpec::discovered(
            source,
            Found {
                id: id.into(),
                url: format!("http://{id}:80/mcp"),
                headers: BTreeMap::new(),
                missing_env: Vec::new(),
                description: String::new(),
            },
        )
    }

    fn file() -> Config {
        crate::config::parse(
            std::path::Path::new("cfg.json"),
            r#"{"servers": {"weather": {"command": "w"}, "fx": {"command": "f"}}}"#,
            &|_| None,
        )
        .unwrap()
    }

    fn ids(c: &Config) -> Vec<(&str, ServerSource)> {
        c.servers
            .iter()
            .map(|s| (s.id.as_str(), s.source))
            .collect()
    }

    #[test]
    fn the_file_wins_then_sources_in_precedence_order() {
        let mut d = Discovered::new(Arc::new(file()));
        let k = ServerSource::Kubernetes;
        d.sources.insert(
            k,
            SourceState {
                servers: normalized(vec![found(k, "shared"), found(k, "kube_only")]),
                ..Default::default()
            },
        );
        d.sources.insert(
            ServerSource::Env,
            SourceState {
                servers: vec![
                    found(ServerSource::Env, "shared"),
                    found(ServerSource::Env, "weather"),
                ],
                ..Default::default()
            },
        );
        let merged = d.merge();
        assert_eq!(
            ids(&merged),
            [
                ("weather", ServerSource::Config),
                ("fx", ServerSource::Config),
                ("shared", ServerSource::Env),
                ("kube_only", k),
            ]
        );
        assert_eq!(d.sources[&ServerSource::Env].shadowed, ["weather"]);
        assert_eq!(d.sources[&k].shadowed, ["shared"]);
    }

    #[test]
    fn sets_compare_regardless_of_order_and_duplicates() {
        let e = ServerSource::Env;
        assert_eq!(
            normalized(vec![found(e, "b"), found(e, "a"), found(e, "b")]),
            normalized(vec![found(e, "a"), found(e, "b")])
        );
    }
}
