//! Request builders and typed responses of the unified tools.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::report::Routing;

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
        pub fn timeout(mut self, timeout: Duration) -> Self {
            self.route.timeout = Some(timeout);
            self
        }
    };
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl Message {
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user".into(),
            content: content.into(),
        }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: "assistant".into(),
            content: content.into(),
        }
    }
}

/// A `chat` request.
///
/// ```
/// use mcp_orchestrator::client::ChatRequest;
/// let req = ChatRequest::new("Name a colour.").vendor("groq").temperature(0.0).max_tokens(16);
/// let args = req.to_arguments();
/// assert_eq!(args["message"], "Name a colour.");
/// assert_eq!(args["vendor"], "groq");
/// assert_eq!(args["max_tokens"], 16);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    messages: Vec<Message>,
    system: Option<String>,
    model: Option<String>,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
    route: RouteOptions,
}

impl ChatRequest {
    /// A one-message chat.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            messages: vec![Message::user(message)],
            ..Self::default()
        }
    }

    /// A chat over a conversation.
    pub fn conversation(messages: impl IntoIterator<Item = Message>) -> Self {
        Self {
            messages: messages.into_iter().collect(),
            ..Self::default()
        }
    }

    /// System prompt.
    pub fn system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// Model (vendor-specific name).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Sampling temperature.
    pub fn temperature(mut self, t: f64) -> Self {
        self.temperature = Some(t);
        self
    }

    /// Most tokens to generate.
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = Some(n);
        self
    }

    route_setters!();

    /// The tool arguments this request sends.
    pub fn to_arguments(&self) -> Map<String, Value> {
        let mut a = Map::new();
        match self.messages.as_slice() {
            [one] if one.role == "user" => {
                a.insert("message".into(), Value::from(one.content.clone()));
            }
            many => {
                a.insert(
                    "messages".into(),
                    serde_json::to_value(many).unwrap_or(Value::Null),
                );
            }
        }
        if let Some(s) = &self.system {
            a.insert("system".into(), Value::from(s.clone()));
        }
        if let Some(m) = &self.model {
            a.insert("model".into(), Value::from(m.clone()));
        }
        if let Some(t) = self.temperature {
            a.insert("temperature".into(), Value::from(t));
        }
        if let Some(n) = self.max_tokens {
            a.insert("max_tokens".into(), Value::from(n));
        }
        self.route.write(&mut a);
        a
    }
}

impl From<&str> for ChatRequest {
    fn from(m: &str) -> Self {
        Self::new(m)
    }
}

impl From<String> for ChatRequest {
    fn from(m: String) -> Self {
        Self::new(m)
    }
}

/// An `embed` request.
///
/// ```
/// use mcp_orchestrator::client::EmbedRequest;
/// let args = EmbedRequest::new(["a", "b"]).dimensions(256).to_arguments();
/// assert_eq!(args["input"], serde_json::json!(["a", "b"]));
/// assert_eq!(args["dimensions"], 256);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbedRequest {
    input: Vec<String>,
    model: Option<String>,
    dimensions: Option<u32>,
    route: RouteOptions,
}

impl EmbedRequest {
    /// Texts to embed.
    pub fn new<S: Into<String>>(input: impl IntoIterator<Item = S>) -> Self {
        Self {
            input: input.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Model.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Output dimensions, where the model supports shortening.
    pub fn dimensions(mut self, n: u32) -> Self {
        self.dimensions = Some(n);
        self
    }

    route_setters!();

    /// The tool arguments this request sends.
    pub fn to_arguments(&self) -> Map<String, Value> {
        let mut a = Map::new();
        a.insert("input".into(), Value::from(self.input.clone()));
        if let Some(m) = &self.model {
            a.insert("model".into(), Value::from(m.clone()));
        }
        if let Some(d) = self.dimensions {
            a.insert("dimensions".into(), Value::from(d));
        }
        self.route.write(&mut a);
        a
    }
}

/// A `search_web` request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchRequest {
    query: String,
    num_results: Option<u32>,
    route: RouteOptions,
}

impl SearchRequest {
    /// A query.
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            query: query.into(),
            ..Self::default()
        }
    }

    /// How many results.
    pub fn num_results(mut self, n: u32) -> Self {
        self.num_results = Some(n);
        self
    }

    route_setters!();

    /// The tool arguments this request sends.
    pub fn to_arguments(&self) -> Map<String, Value> {
        let mut a = Map::new();
        a.insert("query".into(), Value::from(self.query.clone()));
        if let Some(n) = self.num_results {
            a.insert("num_results".into(), Value::from(n));
        }
        self.route.write(&mut a);
        a
    }
}

impl From<&str> for SearchRequest {
    fn from(q: &str) -> Self {
        Self::new(q)
    }
}

/// Units for weather.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Units {
    /// °C, m/s.
    #[default]
    Metric,
    /// °F, mph.
    Imperial,
}

/// A `get_weather` request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeatherRequest {
    location: String,
    units: Units,
    route: RouteOptions,
}

impl WeatherRequest {
    /// Weather at a place.
    pub fn new(location: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            ..Self::default()
        }
    }

    /// Units.
    pub fn units(mut self, units: Units) -> Self {
        self.units = units;
        self
    }

    route_setters!();

    /// The tool arguments this request sends.
    pub fn to_arguments(&self) -> Map<String, Value> {
        let mut a = Map::new();
        a.insert("location".into(), Value::from(self.location.clone()));
        let units = match self.units {
            Units::Metric => "metric",
            Units::Imperial => "imperial",
        };
        a.insert("units".into(), Value::from(units));
        self.route.write(&mut a);
        a
    }
}

impl From<&str> for WeatherRequest {
    fn from(l: &str) -> Self {
        Self::new(l)
    }
}

/// A `chat` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatResponse {
    /// The reply.
    pub message: String,
    /// The model that answered.
    #[serde(default)]
    pub model: Option<String>,
    /// The vendor that answered.
    #[serde(default)]
    pub vendor: Option<String>,
    /// Token usage as the vendor reports it.
    #[serde(default)]
    pub usage: Option<Value>,
    /// Why generation stopped.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// How the request was routed.
    #[serde(default)]
    pub routing: Routing,
}

/// An `embed` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct EmbedResponse {
    /// One vector per input.
    pub embeddings: Vec<Vec<f32>>,
    /// The model.
    #[serde(default)]
    pub model: Option<String>,
    /// Vector length.
    #[serde(default)]
    pub dimensions: Option<usize>,
    /// The vendor.
    #[serde(default)]
    pub vendor: Option<String>,
    /// How the request was routed.
    #[serde(default)]
    pub routing: Routing,
}

/// One search hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    /// Page title.
    pub title: String,
    /// Address.
    pub url: String,
    /// Excerpt.
    #[serde(default)]
    pub snippet: String,
}

/// A `search_web` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchResponse {
    /// Hits, best first.
    pub results: Vec<SearchResult>,
    /// The vendor.
    #[serde(default)]
    pub provider: Option<String>,
    /// How the request was routed.
    #[serde(default)]
    pub routing: Routing,
}

/// A `get_weather` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct WeatherResponse {
    /// The place as the vendor resolved it.
    pub location: String,
    /// Temperature in the requested units.
    pub temperature: f64,
    /// Conditions in words.
    #[serde(default)]
    pub description: String,
    /// Relative humidity, %.
    #[serde(default)]
    pub humidity: Option<f64>,
    /// Wind speed in the requested units.
    #[serde(default)]
    pub wind_speed: Option<f64>,
    /// `metric` or `imperial`.
    #[serde(default)]
    pub units: Option<String>,
    /// The vendor.
    #[serde(default)]
    pub provider: Option<String>,
    /// How the request was routed.
    #[serde(default)]
    pub routing: Routing,
}

/// One model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The vendor's model id.
    pub id: String,
    /// The vendor.
    #[serde(default)]
    pub vendor: Option<String>,
}
