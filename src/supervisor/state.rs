//! What a supervised child is doing, as the contract names it, and the snapshot its supervisor
//! publishes after every change.

use std::{fmt, sync::Arc};

pub use crate::report::ServerState;
use rmcp::{
    Peer, RoleClient,
    model::{Prompt, Resource, ResourceTemplate, ServerCapabilities, Skill, Tool},
};
use tokio::time::Instant;

/// Everything the rest of the orchestrator may know about one child, published as a whole.
#[derive(Clone)]
pub struct ChildStatus {
    /// Current state.
    pub state: ServerState,
    /// OS process id while a process exists.
    pub pid: Option<u32>,
    /// Restarts since the orchestrator started it (crashes, hangs, restart requests).
    pub restarts: u32,
    /// Unset required variables (for `missing_env`).
    pub missing_env: Vec<String>,
    /// Why it last failed, with the tail of its stderr; secrets redacted.
    pub last_error: Option<String>,
    /// When the current process reached `running`.
    pub running_since: Option<Instant>,
    /// Starts that reached `running` so far: lets waiters tell a fresh start from an old one.
    pub generation: u64,
    /// Protocol version the child negotiated.
    pub protocol_version: Option<String>,
    /// The era of that version.
    pub era: Option<crate::era::Era>,
    /// The caching hints of its last lists (a stateless child's), for the hosts' lists.
    pub cache_hints: Option<CacheHints>,
    /// The child's own name and version.
    pub server_info: Option<String>,
    pub capabilities: Option<ServerCapabilities>,
    /// Its tools, in its own names.
    pub tools: Arc<Vec<Tool>>,
    /// Its prompts, in its own names.
    pub prompts: Arc<Vec<Prompt>>,
    pub resources: Arc<Vec<Resource>>,
    /// Its resource templates.
    pub resource_templates: Arc<Vec<ResourceTemplate>>,
    /// Its skills (SEP-2640), as it lists them, when it declares the skills extension.
    pub skills: Arc<Vec<Skill>>,
    /// The connection, while calls may be routed to it.
    pub peer: Option<Peer<RoleClient>>,
    /// The connection's fast path, with `peer` (none for a remote server).
    pub lane: Option<Arc<super::lane::Lane>>,
}

impl ChildStatus {
    /// The status before the supervisor has done anything.
    pub fn initial(state: ServerState, missing_env: Vec<String>) -> Self {
        Self {
            state,
            pid: None,
            restarts: 0,
            missing_env,
            last_error: None,
            running_since: None,
            generation: 0,
            protocol_version: None,
            era: None,
            cache_hints: None,
            server_info: None,
            capabilities: None,
            tools: Arc::default(),
            prompts: Arc::default(),
            resources: Arc::default(),
            resource_templates: Arc::default(),
            skills: Arc::default(),
            peer: None,
            lane: None,
        }
    }

    /// Clears what belongs to a live connection, keeping history (restarts, last error). A
    /// child that is restarting keeps its last good lists: hosts go on seeing its catalogue
    /// (calls wait for it to be back), and a restart that changes nothing announces nothing.
    pub fn disconnected(&mut self, state: ServerState) {
        self.state = state;
        self.pid = None;
        self.running_since = None;
        self.peer = None;
        self.lane = None;
        if state.keeps_catalogue() {
            return;
        }
        self.tools = Arc::default();
        self.prompts = Arc::default();
        self.resources = Arc::default();
        self.resource_templates = Arc::default();
        self.skills = Arc::default();
    }
}

impl fmt::Debug for ChildStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildStatus")
            .field("state", &self.state)
            .field("pid", &self.pid)
            .field("restarts", &self.restarts)
            .field("tools", &self.tools.len())
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

/// The caching hints (SEP-2549) a stateless child put on its list results: how long a list may
/// be treated as fresh, and who may cache it. A handshake-era child gives none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheHints {
    /// The shortest `ttlMs` of the child's lists; `None` if any list had none.
    pub ttl_ms: Option<u64>,
    /// Whether every list said `cacheScope: "public"`.
    pub public: bool,
}

impl CacheHints {
    /// The hints of a result page.
    pub fn of(ttl_ms: Option<u64>, scope: Option<rmcp::model::CacheScope>) -> Self {
        Self {
            ttl_ms,
            public: scope == Some(rmcp::model::CacheScope::Public),
        }
    }

    /// The hints that hold for both: the shorter freshness, public only if both are.
    pub fn and(self, other: Self) -> Self {
        Self {
            ttl_ms: match (self.ttl_ms, other.ttl_ms) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            },
            public: self.public && other.public,
        }
    }
}
