//! The validated configuration: what the rest of the orchestrator sees.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use crate::secrets::{Redactor, Secret};

/// One of the unified tools the orchestrator routes across vendors. Defined with the config,
/// which names them in `routing` and `adapt`, so that every layer above shares one list.
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
    /// Every unified tool, in the order they are listed to hosts.
    pub const ALL: [UnifiedTool; 5] = [
        Self::Chat,
        Self::Embed,
        Self::SearchWeb,
        Self::GetWeather,
        Self::ListModels,
    ];

    /// Every unified tool's name, in the same order.
    pub const NAMES: [&'static str; 5] = [
        Self::ALL[0].name(),
        Self::ALL[1].name(),
        Self::ALL[2].name(),
        Self::ALL[3].name(),
        Self::ALL[4].name(),
    ];

    /// The host-facing tool name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Embed => "embed",
            Self::SearchWeb => "search_web",
            Self::GetWeather => "get_weather",
            Self::ListModels => "list_models",
        }
    }

    /// The tool called `name`, if one is.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The message for a config key that names no unified tool.
    pub fn unknown(name: &str) -> String {
        format!(
            "unknown unified tool `{name}`; expected one of {}",
            Self::NAMES.join(", ")
        )
    }

    /// Whether answers may be reused for identical requests (never `chat`).
    pub fn cacheable(self) -> bool {
        matches!(self, Self::Embed | Self::SearchWeb | Self::GetWeather)
    }

    /// The first line of the tool's description.
    pub fn summary(self) -> &'static str {
        match self {
            Self::Chat => "Chat with a language model.",
            Self::Embed => "Embedding vectors for one or more texts.",
            Self::SearchWeb => "Search the web.",
            Self::GetWeather => "Current weather for a place.",
            Self::ListModels => "Models of every configured vendor.",
        }
    }
}

/// A validated `mcp_servers.json`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    /// Servers in file order: `servers` first, then `mcpServers`.
    pub servers: Vec<ServerSpec>,
    /// Unified tool → vendor chain (explicit, or config order of the servers declaring the tool).
    pub routing: BTreeMap<String, Vec<String>>,
    /// Orchestrator-wide settings.
    pub settings: Settings,
    /// Accepted oddities worth telling the user about (e.g. a seed `port`).
    pub warnings: Vec<String>,
    /// The directory of workflow files (`workflows.dir`, default `workflows/` beside the config).
    pub workflows_dir: PathBuf,
    /// Job types and the job worker pool (`jobs`).
    pub jobs: JobsConfig,
    /// Alert rules (`alerts`).
    pub alerts: Vec<AlertRule>,
}

/// What an alert rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertMetric {
    /// Failed ÷ all calls to a server since the last evaluation.
    ErrorRate,
    /// A server's p99 call latency over its recent window, ms.
    P99LatencyMs,
    /// 1 while a server is not running (starting, restarting, failed…), else 0.
    NotRunning,
    /// A server's restarts since start.
    Restarts,
    /// A server's process group CPU, percent of one core.
    CpuPercent,
    /// A server's process group resident memory, MiB.
    RssMb,
    /// 1 while a server's unified-tool circuit breaker is open.
    BreakerOpen,
    /// Jobs waiting for a worker (not per server).
    QueueDepth,
}

impl AlertMetric {
    /// Every metric with its config spelling.
    pub const ALL: &'static [(&'static str, AlertMetric)] = &[
        ("error_rate", Self::ErrorRate),
        ("p99_latency_ms", Self::P99LatencyMs),
        ("not_running", Self::NotRunning),
        ("restarts", Self::Restarts),
        ("cpu_percent", Self::CpuPercent),
        ("rss_mb", Self::RssMb),
        ("breaker_open", Self::BreakerOpen),
        ("queue_depth", Self::QueueDepth),
    ];

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(s, _)| s)
    }

    /// Whether it is measured per server.
    pub fn per_server(self) -> bool {
        self != Self::QueueDepth
    }
}

/// One alert rule, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// Its name.
    pub name: String,
    /// What it watches.
    pub metric: AlertMetric,
    /// Only this server.
    pub server: Option<String>,
    /// The threshold.
    pub threshold: f64,
    /// Fires below the threshold instead of above.
    pub below: bool,
    /// How long the condition must hold.
    pub for_: Duration,
    /// How long after firing it stays quiet.
    pub cooldown: Duration,
    /// Where firing and resolving are POSTed.
    pub webhook: Option<String>,
}

/// The `jobs` section, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct JobsConfig {
    /// Job type name → what it runs, sorted by name.
    pub types: BTreeMap<String, JobType>,
    /// Jobs run at once by one process.
    pub max_concurrent: usize,
    /// How long a finished job is kept (a submission may ask for less or more).
    pub ttl: Duration,
    /// Time between health checks of external services.
    pub health_interval: Duration,
    /// Where artifact content is kept (`None`: the state dir, beside the store).
    pub artifacts_dir: Option<PathBuf>,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            types: BTreeMap::new(),
            max_concurrent: 16,
            ttl: Duration::from_secs(7 * 86_400),
            health_interval: Duration::from_secs(30),
            artifacts_dir: None,
        }
    }
}

/// One job type: exactly one target, and how to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobType {
    /// What it runs.
    pub target: JobTarget,
    /// How long one run may take (`None`: the target's own limits).
    pub timeout: Option<Duration>,
    /// Safe to run twice: after a crash mid-run it is run again rather than failed.
    pub idempotent: bool,
    /// What it does.
    pub description: Option<String>,
}

/// What a job type runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobTarget {
    /// A host-facing tool name.
    Tool(String),
    /// A workflow definition name.
    Workflow(String),
    /// An external service by its base URL (`POST {url}/execute`, `GET {url}/health`).
    Service(String),
}

impl JobTarget {
    /// Its kind, and the target as jobs, reports and messages show it (a URL without its
    /// credentials).
    pub fn shown(&self) -> (crate::report::JobKind, String) {
        use crate::report::JobKind;
        match self {
            Self::Tool(n) => (JobKind::Tool, n.clone()),
            Self::Workflow(n) => (JobKind::Workflow, n.clone()),
            Self::Service(u) => (JobKind::Service, crate::secrets::shown_url(u)),
        }
    }
}

impl Config {
    /// The server with this id.
    pub fn server(&self, id: &str) -> Option<&ServerSpec> {
        self.servers.iter().find(|s| s.id == id)
    }
}

/// One child server, ready to launch.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    /// Its id: the key in the config and the namespace of its tools.
    pub id: String,
    /// `servers` or `mcpServers`, for messages.
    pub section: &'static str,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// How it is reached: launched as a stdio child, or over streamable HTTP.
    pub transport: Transport,
    /// Names the child needs from the orchestrator's environment.
    pub required_env: Vec<String>,
    /// Their values, for those that are set.
    pub required_values: BTreeMap<String, Secret>,
    /// Required variables that are unset: the server is `missing_env` while this is not empty.
    pub missing_env: Vec<String>,
    /// Do not start it.
    pub disabled: bool,
    /// Tools the config says it offers (seed format).
    pub tools: Vec<String>,
    /// Per-call timeout override.
    pub timeout: Option<Duration>,
    /// Values to scrub from anything repeated from this child.
    pub secrets: Vec<Secret>,
    /// Unified tool → how it maps onto this server's tool.
    pub adapt: BTreeMap<String, Adapter>,
    /// The vector space label of this server's `embed`.
    pub embedding_space: Option<String>,
    /// Whether its tools and prompts are exposed as `<server>__<name>` (default) or bare.
    pub namespace: bool,
    /// This server's pinning policy, if it overrides the orchestrator's.
    pub pin_tools: Option<PinPolicy>,
    /// Kinds of work it takes (`capability:` workflow steps).
    pub capabilities: Vec<String>,
    /// Which protocol era to speak to it.
    pub protocol: ProtocolChoice,
    /// Where its definition came from: the config file or a discovery source.
    pub source: crate::report::ServerSource,
}

/// Which MCP era the orchestrator speaks to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolChoice {
    /// `server/discover` first (2026-07-28, stateless), `initialize` (2025-11-25) if the server
    /// answers it with an error.
    #[default]
    Auto,
    /// `initialize` only: the handshake era, for a server that mishandles the probe.
    Legacy,
    /// `server/discover` only: a server that must be spoken to statelessly.
    Modern,
}

/// How a server is reached.
#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    /// A child process speaking MCP on its stdin/stdout.
    Stdio(Launch),
    /// A remote server speaking MCP streamable HTTP.
    Http(Remote),
}

/// What launching a stdio child takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    /// Program (expanded); a bare name is looked up next to the orchestrator, then on `PATH`.
    pub command: String,
    /// Arguments (expanded), passed as they are: no shell is involved.
    pub args: Vec<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// The child's own variables (expanded; pass-throughs of unset variables dropped).
    pub env: BTreeMap<String, Secret>,
    /// Give the child the orchestrator's whole environment.
    pub inherit_env: bool,
}

/// A remote (streamable HTTP) server.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    /// Its MCP endpoint.
    pub url: String,
    /// Headers sent with every request (expanded); values are treated as secrets.
    pub headers: BTreeMap<String, Secret>,
}

/// How one unified tool maps onto a server's own tool.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adapter {
    /// The server's tool name, if not the unified one.
    pub tool: Option<String>,
    /// Unified argument name → the server's argument name.
    pub rename: BTreeMap<String, String>,
    /// Arguments added when the caller did not give them.
    pub defaults: serde_json::Map<String, serde_json::Value>,
}

impl ServerSpec {
    /// How to launch it, for a stdio child.
    pub fn launch(&self) -> Option<&Launch> {
        match &self.transport {
            Transport::Stdio(l) => Some(l),
            Transport::Http(_) => None,
        }
    }

    /// Where to reach it, for a remote server.
    pub fn remote(&self) -> Option<&Remote> {
        match &self.transport {
            Transport::Http(r) => Some(r),
            Transport::Stdio(_) => None,
        }
    }

    /// A redactor for this server's secrets.
    pub fn redactor(&self) -> Redactor {
        Redactor::new(&self.secrets)
    }
}

/// What happens when a child's tool definition differs from the one pinned when first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PinPolicy {
    /// No pins are kept.
    Off,
    /// The change is flagged in `status` and logged; the tool stays available.
    #[default]
    Warn,
    /// Flagged, and the changed tool is withheld from the host until approved.
    Withhold,
}

/// The `orchestrator` section, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Per-call timeout toward a child.
    pub default_timeout: Duration,
    /// Attempts per vendor for unified tools.
    pub retry_attempts: u32,
    /// Time between health pings.
    pub health_check_interval: Duration,
    /// How long a ping may take.
    pub health_check_timeout: Duration,
    /// Missed pings in a row before a restart.
    pub health_check_failures: u32,
    /// Spawn → tools listed, at most.
    pub startup_timeout: Duration,
    /// How long a host session's first `tools/list` (and prompts, resources) waits for children
    /// still starting, so that hosts which list once see every tool. At most `startup_timeout`.
    pub first_list_wait: Duration,
    /// Crashes tolerated within `restart_window` before `failed`.
    pub max_restarts: u32,
    /// The window for `max_restarts`.
    pub restart_window: Duration,
    /// Cap on one JSON-RPC message in each direction.
    pub max_message_bytes: usize,
    /// Grace after closing stdin, and again after SIGTERM.
    pub shutdown_grace: Duration,
    /// How long work in flight may take to finish before what runs it stops: calls to a server
    /// being stopped by a reload; and on SIGTERM, the whole orchestrator's calls, workflow steps
    /// and jobs (after it, their leases are handed back and the children stop).
    pub drain_timeout: Duration,
    /// Calls in flight to one server at most.
    pub max_in_flight: usize,
    /// How long cacheable unified answers are reused; zero turns the cache off.
    pub cache_ttl: Duration,
    /// Circuit breaker settings for unified-tool vendors.
    pub breaker: BreakerConfig,
    /// Tool-definition pinning, for servers that do not set their own.
    pub pin_tools: PinPolicy,
    /// The pin file; `None` keeps pins in memory only.
    pub pin_file: Option<PathBuf>,
    /// The store's URL (a secret: a PostgreSQL URL may hold a password); `None`: an SQLite file
    /// in the state directory, named after the config.
    pub store: Option<Secret>,
    /// Workflow runs driven at once.
    pub max_concurrent_workflows: usize,
    /// Steps running at once, across runs.
    pub max_concurrent_steps: usize,
    /// What `resource_aware` steps may use at once.
    pub resources: ResourceLimits,
    /// How long a claim on a run lasts without renewal; another replica takes the run over after.
    pub lease_ttl: Duration,
    /// Time between readings of the children's resource use.
    pub resource_sample_interval: Duration,
    /// How much resource history is kept.
    pub resource_history: Duration,
    /// What one history point covers (its CPU is the mean, its memory the peak, over it).
    pub resource_history_step: Duration,
    /// Where servers are found besides the config file (`orchestrator.discovery`).
    pub discovery: super::discovery::DiscoveryConfig,
}

/// The machine's budget for `resource_aware` steps (`orchestrator.resources`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourceLimits {
    /// CPUs.
    pub cpu: f64,
    /// Memory, in MiB.
    pub memory_mb: u64,
}

impl Default for ResourceLimits {
    /// The machine's own CPUs, and 4 GiB: a budget for the steps' declared needs, not a
    /// measurement.
    fn default() -> Self {
        Self {
            cpu: std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
            memory_mb: 4096,
        }
    }
}

impl ServerSpec {
    /// This server's pinning policy: its own `pin_tools`, else the orchestrator's.
    pub fn pin_policy(&self, settings: &Settings) -> PinPolicy {
        self.pin_tools.unwrap_or(settings.pin_tools)
    }
}

impl Settings {
    /// Whether going from `self` to `new` changes how children are supervised, so that running
    /// children must restart to pick it up. Call timeouts and retries apply at once without one.
    pub fn supervision_differs(&self, new: &Settings) -> bool {
        (
            self.health_check_interval,
            self.health_check_timeout,
            self.health_check_failures,
            self.startup_timeout,
            self.max_restarts,
            self.restart_window,
            self.max_message_bytes,
            self.shutdown_grace,
        ) != (
            new.health_check_interval,
            new.health_check_timeout,
            new.health_check_failures,
            new.startup_timeout,
            new.max_restarts,
            new.restart_window,
            new.max_message_bytes,
            new.shutdown_grace,
        )
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_timeout: Duration::from_secs(30),
            retry_attempts: 3,
            health_check_interval: Duration::from_secs(30),
            health_check_timeout: Duration::from_secs(10),
            health_check_failures: 2,
            // npx/uvx may download on a cold start; 60 s is what hosts allow too.
            startup_timeout: Duration::from_secs(60),
            // npx/uvx servers took 2–5 s to come up on a 2-core machine, the local model 5 s.
            first_list_wait: Duration::from_secs(10),
            max_restarts: 5,
            restart_window: Duration::from_secs(60),
            max_message_bytes: 16 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(2),
            // Kubernetes' default 30 s grace: a 5 s preStop pause + this + ≤ 3 s handing leases
            // back + ≤ 8 s stopping children (3 × shutdown_grace + 2 s) = 26 s.
            drain_timeout: Duration::from_secs(10),
            max_in_flight: 64,
            cache_ttl: Duration::from_secs(300),
            breaker: BreakerConfig::default(),
            pin_tools: PinPolicy::Warn,
            pin_file: None,
            store: None,
            max_concurrent_workflows: 100,
            max_concurrent_steps: 50,
            resources: ResourceLimits::default(),
            lease_ttl: Duration::from_secs(15),
            resource_sample_interval: Duration::from_secs(5),
            resource_history: Duration::from_secs(86_400),
            resource_history_step: Duration::from_secs(60),
            discovery: super::discovery::DiscoveryConfig::default(),
        }
    }
}

/// Circuit breaker settings (`breaker_*` in the `orchestrator` section).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Failure fraction (0..=1) at which it opens.
    pub failure_rate: f64,
    /// Calls within the window before the rate counts.
    pub min_calls: usize,
    /// How far back outcomes count.
    pub window: Duration,
    /// How long it stays open before a probe.
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_rate: 0.5,
            min_calls: 5,
            window: Duration::from_secs(60),
            cooldown: Duration::from_secs(30),
        }
    }
}
