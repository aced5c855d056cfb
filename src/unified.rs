//! The unified tools (`chat`, `embed`, `search_web`, `get_weather`, `list_models`): one name for
//! the host, served by the first configured vendor that works.
//!
//! - [`route`]: the request loop: vendor chain, retries, fallback, one deadline;
//! - [`outcome`]: what a vendor's answer means (success, vendor failure, caller error);
//! - [`breaker`]: the circuit breaker per vendor;
//! - [`cache`]: exact-match cache for answers that keep;
//! - [`schema`]: the tools' schemas.

pub mod breaker;
pub mod cache;
pub mod outcome;
pub mod route;
pub mod schema;

use std::{collections::HashMap, sync::Mutex};

use rmcp::model::Tool;
use tokio::time::Instant;

use crate::{
    config::{Adapter, Config},
    metrics::{CallMetrics, MetricsSnapshot},
};
use breaker::{BreakerConfig, CircuitBreaker, CircuitState};

/// One of the unified tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnifiedTool {
    /// `chat`.
    Chat,
    /// `embed`.
    Embed,
    /// `search_web`.
    SearchWeb,
    /// `get_weather`.
    GetWeather,
    /// `list_models`.
    ListModels,
}

impl UnifiedTool {
    /// All of them.
    pub const ALL: [UnifiedTool; 5] = [
        Self::Chat,
        Self::Embed,
        Self::SearchWeb,
        Self::GetWeather,
        Self::ListModels,
    ];

    /// The tool name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Embed => "embed",
            Self::SearchWeb => "search_web",
            Self::GetWeather => "get_weather",
            Self::ListModels => "list_models",
        }
    }

    /// The tool for a name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether answers may be reused for identical requests.
    pub fn cacheable(self) -> bool {
        matches!(self, Self::Embed | Self::SearchWeb | Self::GetWeather)
    }

    fn summary(self) -> &'static str {
        match self {
            Self::Chat => "Chat with a language model.",
            Self::Embed => "Embedding vectors for one or more texts.",
            Self::SearchWeb => "Search the web.",
            Self::GetWeather => "Current weather for a place.",
            Self::ListModels => "Models of every configured vendor.",
        }
    }
}

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn adapter_renames_defaults_and_retargets() {
        let a = Adapter {
            tool: Some("ask".into()),
            rename: [("message".to_owned(), "prompt".to_owned())].into(),
            defaults: json!({"model": "m1", "prompt": "unused"})
                .as_object()
                .unwrap()
                .clone(),
        };
        let args = json!({"message": "hi"}).as_object().unwrap().clone();
        let (tool, out) = adapt(UnifiedTool::Chat, Some(&a), args);
        assert_eq!(tool, "ask");
        assert_eq!(
            serde_json::Value::Object(out),
            json!({"prompt": "hi", "model": "m1"})
        );
        let (tool, _) = adapt(UnifiedTool::Embed, None, Default::default());
        assert_eq!(tool, "embed");
    }
}
