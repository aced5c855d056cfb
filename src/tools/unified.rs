//! The unified tools (`chat`, `embed`, `search_web`, `get_weather`, `list_models`): one name for
//! the host, served by the first configured vendor that works.
//!
//! Vendors are called through [`ToolCaller`], never the registry, so the whole fallback logic
//! runs in unit tests against a fake caller ([`tests`]).
//!
//! - [`controls`]: the request's own arguments (`vendor`, `fallback`, `timeout_ms`) and the
//!   vendor order they give;
//! - [`route`]: the request loop: vendors in order, retries, fallback, one deadline;
//! - [`list_models`]: the fan-out to every vendor at once;
//! - [`finish`]: the routing record on every answer, metrics and the audit line;
//! - [`outcome`]: what a vendor's answer means (success, vendor failure, caller error);
//! - [`breaker`]: the circuit breaker per vendor;
//! - [`cache`]: exact-match cache for answers that keep;
//! - [`schema`]: the tools' schemas.

pub mod breaker;
pub mod cache;
mod controls;
mod finish;
mod list_models;
pub mod outcome;
mod route;
pub mod schema;
#[cfg(test)]
mod tests;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use arc_swap::ArcSwap;
use rmcp::model::{CallToolResponse, JsonObject, Tool};
use tokio::time::Instant;

use self::breaker::{CircuitBreaker, CircuitState};
pub use crate::config::UnifiedTool;
use crate::{
    config::{Adapter, BreakerConfig, Config},
    dispatch::{BoxFuture, CallContext, CallOutcome, Caller, ToolCaller},
    error::RouteError,
    metrics::{CallMetrics, MetricsSnapshot},
    tools::ToolSource,
};

/// State shared by unified requests: breakers, cache, metrics.
pub struct Unified {
    breakers: Mutex<HashMap<String, CircuitBreaker>>,
    breaker_config: BreakerConfig,
    cache: cache::Cache,
    metrics: HashMap<UnifiedTool, CallMetrics>,
}

impl Unified {
    /// Fresh state for `config`.
    pub fn new(config: &Config) -> Self {
        Self {
            breakers: Mutex::default(),
            breaker_config: config.settings.breaker,
            cache: cache::Cache::default(),
            metrics: UnifiedTool::ALL
                .into_iter()
                .map(|t| (t, CallMetrics::default()))
                .collect(),
        }
    }

    /// Runs `f` on the breaker of `vendor`.
    pub fn breaker<R>(&self, vendor: &str, f: impl FnOnce(&mut CircuitBreaker) -> R) -> R {
        let mut map = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        let b = map
            .entry(vendor.to_owned())
            .or_insert_with(|| CircuitBreaker::new(self.breaker_config));
        f(b)
    }

    /// The circuit state of `vendor`, if it has served a unified tool.
    pub fn circuit(&self, vendor: &str) -> Option<CircuitState> {
        let map = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        map.get(vendor).map(|b| b.state(Instant::now()))
    }

    /// Metrics per unified tool that has been called.
    pub fn metrics(&self) -> std::collections::BTreeMap<String, MetricsSnapshot> {
        self.metrics
            .iter()
            .map(|(t, m)| (t.name().to_owned(), m.snapshot()))
            .filter(|(_, s)| s.calls > 0)
            .collect()
    }

    fn metrics_of(&self, tool: UnifiedTool) -> Option<&CallMetrics> {
        self.metrics.get(&tool)
    }

    fn cache(&self) -> &cache::Cache {
        &self.cache
    }
}

/// The unified tools as a source of host-facing tools.
pub struct UnifiedSource {
    unified: Arc<Unified>,
    config: Arc<ArcSwap<Config>>,
    vendors: Arc<dyn ToolCaller>,
}

impl UnifiedSource {
    /// The unified tools over `vendors`, as configured by the config in `config` (read per call,
    /// so a reload applies at once).
    pub fn new(
        unified: Arc<Unified>,
        config: Arc<ArcSwap<Config>>,
        vendors: Arc<dyn ToolCaller>,
    ) -> Self {
        Self {
            unified,
            config,
            vendors,
        }
    }
}

impl ToolSource for UnifiedSource {
    /// Every unified tool's name, whether or not a vendor is configured for it.
    fn reserved(&self) -> &'static [&'static str] {
        &UnifiedTool::NAMES
    }

    fn tools(&self, _caller: Caller) -> Vec<Tool> {
        definitions(&self.config.load())
    }

    fn owns(&self, name: &str, _caller: Caller) -> bool {
        UnifiedTool::from_name(name).is_some()
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        arguments: Option<JsonObject>,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<CallOutcome, RouteError>> {
        Box::pin(async move {
            let Some(tool) = UnifiedTool::from_name(name) else {
                return Err(RouteError::Unknown {
                    kind: crate::error::ItemKind::Tool,
                    name: name.to_owned(),
                });
            };
            let config = self.config.load_full();
            self.unified
                .call(&config, &*self.vendors, tool, arguments, cx)
                .await
                .map(CallToolResponse::Complete)
        })
    }
}

/// The unified tools the config offers: those with at least one vendor.
pub fn definitions(config: &Config) -> Vec<Tool> {
    UnifiedTool::ALL
        .into_iter()
        .filter_map(|t| {
            let chain = config.routing.get(t.name()).filter(|c| !c.is_empty())?;
            Some(schema::definition(t, chain))
        })
        .collect()
}

/// Applies a server's adapter for a unified tool: its tool name, renamed arguments, defaults.
pub fn adapt(
    tool: UnifiedTool,
    adapter: Option<&Adapter>,
    mut args: serde_json::Map<String, serde_json::Value>,
) -> (String, serde_json::Map<String, serde_json::Value>) {
    let Some(a) = adapter else {
        return (tool.name().to_owned(), args);
    };
    for (from, to) in &a.rename {
        if let Some(v) = args.remove(from) {
            args.insert(to.clone(), v);
        }
    }
    for (k, v) in &a.defaults {
        args.entry(k.clone()).or_insert_with(|| v.clone());
    }
    (
        a.tool.clone().unwrap_or_else(|| tool.name().to_owned()),
        args,
    )
}
