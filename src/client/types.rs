//! Request builders and typed answers of the unified tools, one module per tool.
//!
//! The requests hold the tools' argument types from `mcp-tool-shapes`, the ones the vendor
//! servers decode, so an argument's name and type cannot drift from theirs; the builders add the
//! orchestrator's routing controls ([`RouteOptions`]). The answers stay the SDK's own: they are
//! lenient where a vendor's answer may lack a field, and carry the [`Routing`] record.
//!
//! [`Routing`]: crate::report::Routing

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

/// Options every unified request takes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteOptions {
    /// Vendor to use first.
    pub vendor: Option<String>,
    /// `false` to fail instead of trying the next vendor.
    pub fallback: Option<bool>,
    /// Deadline for the whole request.
    pub timeout: Option<Duration>,
}

impl RouteOptions {
    fn write(&self, args: &mut Map<String, Value>) {
        if let Some(v) = &self.vendor {
            args.insert("vendor".into(), Value::from(v.clone()));
        }
        if let Some(f) = self.fallback {
            args.insert("fallback".into(), Value::from(f));
        }
        if let Some(t) = self.timeout {
            args.insert(
                "timeout_ms".into(),
                Value::from(u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)),
            );
        }
    }
}

/// The tool arguments of a request: the tool's own `args`, then the routing controls.
fn arguments(args: &impl Serialize, route: &RouteOptions) -> Map<String, Value> {
    // The argument types serialise to objects, and infallibly: no map has non-string keys, and a
    // float that JSON cannot hold becomes null.
    let mut out = match serde_json::to_value(args) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    route.write(&mut out);
    out
}

macro_rules! route_setters {
    () => {
        /// Use this vendor first.
        pub fn vendor(mut self, vendor: impl Into<String>) -> Self {
            self.route.vendor = Some(vendor.into());
            self
        }

        /// Whether to fall back to the next vendor (default: yes).
        pub fn fallback(mut self, fallback: bool) -> Self {
            self.route.fallback = Some(fallback);
            self
        }

        /// Deadline for the whole request, fallbacks included.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.route.timeout = Some(timeout);
            self
        }
    };
}

mod chat;
mod embed;
mod models;
mod search;
mod weather;

pub use chat::{ChatRequest, ChatResponse, Message};
pub use embed::{EmbedRequest, EmbedResponse};
pub use models::Model;
pub(super) use models::ModelList;
pub use search::{SearchRequest, SearchResponse, SearchResult};
pub use weather::{Units, WeatherRequest, WeatherResponse};
