//! The config file as serde sees it: no defaults applied, nothing checked beyond shape.
//!
//! Every struct denies unknown keys, so a misspelt `comand` is an error that names the key rather
//! than a server that silently has no command. Servers are kept as raw JSON values here and
//! parsed one by one in [`super::validate`], so that an error can name the server it is in.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

/// The whole `mcp_servers.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// Editors' JSON-schema hint; accepted (so `deny_unknown_fields` lets it through) and ignored.
    #[serde(rename = "$schema", default)]
    #[expect(dead_code, reason = "read by serde only, to accept the key")]
    pub schema: Option<String>,
    /// The seed format: `{"servers": {"id": {...}}}`.
    #[serde(default)]
    pub servers: Map<String, Value>,
    /// Claude Desktop's format: `{"mcpServers": {"id": {...}}}`.
    #[serde(rename = "mcpServers", default)]
    pub mcp_servers: Map<String, Value>,
    /// Unified tool → ordered vendor chain.
    #[serde(default)]
    pub routing: Map<String, Value>,
    /// Orchestrator-wide settings.
    #[serde(default)]
    pub orchestrator: Option<Value>,
    /// Where workflow definitions live.
    #[serde(default)]
    pub workflows: Option<Value>,
    /// Job types and the job worker pool.
    #[serde(default)]
    pub jobs: Option<Value>,
    /// Alert rules. Kept raw so an error can name the rule it is in.
    #[serde(default)]
    pub alerts: Vec<Value>,
}

/// One alert rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlert {
    /// Its name (unique).
    pub name: String,
    /// What it watches: `error_rate`, `p99_latency_ms`, `not_running`, `restarts`,
    /// `cpu_percent`, `rss_mb`, `breaker_open`, `queue_depth`.
    pub metric: String,
    /// Only this server (default: every server, each on its own).
    pub server: Option<String>,
    /// Fires when the metric is above this (or below, with `below: true`).
    pub threshold: f64,
    /// Fire when the metric is under the threshold instead.
    pub below: Option<bool>,
    /// Seconds the condition must hold before it fires.
    #[serde(rename = "for")]
    pub for_: Option<f64>,
    /// Seconds after firing during which it does not fire again.
    pub cooldown: Option<f64>,
    /// A URL to POST firing and resolving to.
    pub webhook: Option<String>,
}

/// The `jobs` object.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJobs {
    /// Job type name → what it runs. Kept raw so an error names the type it is in.
    #[serde(default)]
    pub types: Map<String, Value>,
    /// Jobs run at once.
    pub max_concurrent: Option<u32>,
    /// Seconds a finished job is kept.
    pub ttl: Option<f64>,
    /// Seconds between health checks of external services.
    pub health_interval: Option<f64>,
    /// Where artifact content is kept (replicas share one directory).
    pub artifacts_dir: Option<String>,
}

/// One job type.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJobType {
    /// A host-facing tool.
    pub tool: Option<String>,
    /// A workflow definition.
    pub workflow: Option<String>,
    /// An external service's base URL.
    pub service_url: Option<String>,
    /// Seconds one run may take.
    pub timeout: Option<f64>,
    /// Whether running it twice does no harm (a restart may then repeat it).
    pub idempotent: Option<bool>,
    /// What it does, for `services list`.
    pub description: Option<String>,
}

/// The `workflows` object.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkflows {
    /// The directory of workflow files, relative to the config file.
    pub dir: Option<String>,
}

/// `orchestrator.resources`: what `resource_aware` workflows may use at once.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResources {
    /// CPUs (fractions allowed).
    pub cpu: Option<f64>,
    /// Memory, in MiB.
    pub memory_mb: Option<u64>,
}

/// One server entry, in either format (Claude Desktop's keys are a subset of the seed's).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Display name.
    pub name: Option<String>,
    /// What the server is for.
    pub description: Option<String>,
    /// Program to launch.
    pub command: Option<String>,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment for the child; values may use `${VAR}`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Variables that must be set in the orchestrator's environment for the child to start.
    #[serde(default)]
    pub required_env: Vec<String>,
    /// The tools the seed format says the server offers (used for default routing).
    #[serde(default)]
    pub tools: Vec<String>,
    /// Seed-format leftover with no meaning for a stdio child: accepted with a warning.
    pub port: Option<Value>,
    /// Pass the orchestrator's whole environment to the child.
    #[serde(default)]
    pub inherit_env: bool,
    /// Keep the entry but do not start it.
    #[serde(default)]
    pub disabled: bool,
    /// Working directory of the child.
    pub cwd: Option<String>,
    /// Claude Code's transport tag: `stdio` (or absent) is the only one served so far.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Claude Code's remote-server URL.
    pub url: Option<String>,
    /// Claude Code's remote-server headers.
    pub headers: Option<BTreeMap<String, String>>,
    /// Per-call timeout for this server, in seconds (overrides `default_timeout`).
    pub timeout: Option<f64>,
    /// For third-party servers: how a unified tool maps onto theirs.
    #[serde(default)]
    pub adapt: BTreeMap<String, RawAdapter>,
    /// `false`: expose this server's tools and prompts under their own names, without the
    /// `<server>__` prefix (for a single-server setup, or a server whose names are fixed).
    pub namespace: Option<bool>,
    /// A label for the vector space of this server's `embed`; `embed` falls back only between
    /// servers with the same label.
    pub embedding_space: Option<String>,
    /// Overrides `orchestrator.pin_tools` for this server.
    pub pin_tools: Option<crate::config::PinPolicy>,
    /// What kinds of work this server takes: workflow steps naming `capability: X` run on a
    /// server listing `X`.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Which MCP era to speak to it: `auto` (default: `server/discover` first, `initialize` as
    /// the fallback), `legacy` or `modern`.
    pub protocol: Option<crate::config::ProtocolChoice>,
}

/// How one unified tool maps onto a server's own tool.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdapter {
    /// The server's tool name, if not the unified one.
    pub tool: Option<String>,
    /// Unified argument name → the server's argument name.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// Arguments added when the caller did not give them.
    #[serde(default)]
    pub defaults: Map<String, Value>,
}

/// The `orchestrator` object. Durations are in seconds, fractions allowed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// Per-call timeout toward a child.
    pub default_timeout: Option<f64>,
    /// Attempts per vendor for unified tools.
    pub retry_attempts: Option<u32>,
    /// Seconds between health pings.
    pub health_check_interval: Option<f64>,
    /// How long a ping may take.
    pub health_check_timeout: Option<f64>,
    /// Missed pings in a row before a restart.
    pub health_check_failures: Option<u32>,
    /// Spawn → tools listed, at most.
    pub startup_timeout: Option<f64>,
    /// How long a session's first list waits for children still starting; 0 turns it off.
    pub first_list_wait: Option<f64>,
    /// Crashes tolerated within `restart_window` before `failed`.
    pub max_restarts: Option<u32>,
    /// The window for `max_restarts`.
    pub restart_window: Option<f64>,
    /// Cap on one JSON-RPC message, in bytes, in each direction.
    pub max_message_bytes: Option<u64>,
    /// How long a child gets after stdin closes, and again after SIGTERM.
    pub shutdown_grace: Option<f64>,
    /// How long work in flight may take to finish: calls to a server a reload stops; on
    /// SIGTERM, the orchestrator's calls, steps and jobs.
    pub drain_timeout: Option<f64>,
    /// Calls in flight to one server at most; more get an overload error at once.
    pub max_in_flight: Option<u32>,
    /// Seconds between readings of the children's CPU, memory, threads and fds.
    pub resource_sample_interval: Option<f64>,
    /// Seconds of resource history kept.
    pub resource_history: Option<f64>,
    /// Seconds one history point covers.
    pub resource_history_step: Option<f64>,
    /// What to do when a tool's definition changes after it was pinned.
    pub pin_tools: Option<crate::config::PinPolicy>,
    /// Where pins are kept between runs.
    pub pin_file: Option<String>,
    /// Seconds an `embed`, `get_weather` or `search_web` answer is reused for the same
    /// arguments; 0 turns the cache off.
    pub cache_ttl: Option<f64>,
    /// Circuit breaker: failure fraction that opens it.
    pub breaker_failure_rate: Option<f64>,
    /// Circuit breaker: calls in the window before the rate counts.
    pub breaker_min_calls: Option<u32>,
    /// Circuit breaker: the window, in seconds.
    pub breaker_window: Option<f64>,
    /// Circuit breaker: seconds open before a probe.
    pub breaker_cooldown: Option<f64>,
    /// The durable store: `sqlite://PATH` or `postgres://…`; `${VAR}` expands.
    pub store: Option<String>,
    /// Workflow runs driven at once; more wait, by priority.
    pub max_concurrent_workflows: Option<u32>,
    /// Steps running at once across all runs.
    pub max_concurrent_steps: Option<u32>,
    /// What `resource_aware` steps may use at once.
    pub resources: Option<RawResources>,
    /// Seconds a replica's claim on a run lasts without renewal.
    pub lease_ttl: Option<f64>,
    /// Where servers are found besides this file. Kept raw so errors name its keys.
    pub discovery: Option<Value>,
}

/// `orchestrator.discovery`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDiscovery {
    /// Read `MCP_SERVER_<ID>_URL` variables.
    #[serde(default)]
    pub env: bool,
    /// SRV records.
    pub dns: Option<RawDnsDiscovery>,
    /// Labelled Kubernetes Services.
    pub kubernetes: Option<RawKubernetesDiscovery>,
}

/// `orchestrator.discovery.dns`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDnsDiscovery {
    /// The domain under which `_mcp._tcp` is looked up.
    pub domain: Option<String>,
    /// Seconds between resolutions.
    pub interval: Option<f64>,
    /// `IP` or `IP:PORT` of the DNS server to ask.
    pub nameserver: Option<String>,
    /// The MCP endpoint's path (default `/mcp`).
    pub path: Option<String>,
    /// `http` or `https`.
    pub scheme: Option<String>,
    /// Put the target's address in the URL instead of its name.
    pub use_addresses: Option<bool>,
    /// Headers for every server found; values may use `${VAR}`.
    pub headers: Option<BTreeMap<String, String>>,
}

/// `orchestrator.discovery.kubernetes`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKubernetesDiscovery {
    /// The namespace.
    pub namespace: Option<String>,
    /// Which Services (default `mcp.io/server=true`).
    pub label_selector: Option<String>,
    /// The API server's URL (default: in-cluster).
    pub api_url: Option<String>,
    /// The variable holding a bearer token for `api_url`.
    pub token_env: Option<String>,
    /// The name of the Service port to use (default `mcp`; else the first port).
    pub port_name: Option<String>,
    /// The MCP endpoint's path unless a Service's annotation says (default `/mcp`).
    pub path: Option<String>,
    /// Headers for every server found; values may use `${VAR}`.
    pub headers: Option<BTreeMap<String, String>>,
}
