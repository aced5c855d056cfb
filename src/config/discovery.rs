//! `orchestrator.discovery`, validated: which sources find remote servers besides the config
//! file. What they find becomes a server through [`super::found`].

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use crate::{report::ServerSource, secrets::Secret};

/// The discovery sources in force. All off by default: a stray variable or DNS record must not
/// add a server nobody asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiscoveryConfig {
    /// `MCP_SERVER_<ID>_URL` variables.
    pub env: bool,
    /// SRV records of `_mcp._tcp.<domain>`.
    pub dns: Option<DnsDiscovery>,
    /// Labelled Services of a namespace.
    pub kubernetes: Option<KubernetesDiscovery>,
}

impl DiscoveryConfig {
    /// Whether `source` is configured.
    pub fn enabled(&self, source: ServerSource) -> bool {
        match source {
            ServerSource::Config => true,
            ServerSource::Env => self.env,
            ServerSource::Dns => self.dns.is_some(),
            ServerSource::Kubernetes => self.kubernetes.is_some(),
        }
    }
}

/// `orchestrator.discovery.dns`.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsDiscovery {
    /// The domain whose `_mcp._tcp.` SRV records are read, without the trailing dot.
    pub domain: String,
    /// Time between resolutions while they succeed.
    pub interval: Duration,
    /// The DNS server to ask; `None`: the system's (`/etc/resolv.conf`).
    pub nameserver: Option<SocketAddr>,
    /// The MCP endpoint's path on each target.
    pub path: String,
    /// `http` or `https`; `None`: `https` on port 443, `http` elsewhere.
    pub scheme: Option<String>,
    /// Put the target's address (resolved by the same DNS server) in the URL rather than its
    /// name: for names only that server knows.
    pub use_addresses: bool,
    /// Headers sent to every server found (expanded; secrets).
    pub headers: BTreeMap<String, Secret>,
    /// Variables the headers refer to that are unset: the servers found show `missing_env`.
    pub missing_env: Vec<String>,
}

/// `orchestrator.discovery.kubernetes`.
#[derive(Debug, Clone, PartialEq)]
pub struct KubernetesDiscovery {
    /// The namespace whose Services are listed.
    pub namespace: String,
    /// Which Services: a Kubernetes label selector.
    pub label_selector: String,
    /// The API server; `None`: the in-cluster one (service account token and CA).
    pub api_url: Option<String>,
    /// The variable holding a bearer token for `api_url` (e.g. `kubectl create token`'s output).
    pub token_env: Option<String>,
    /// That variable's value when the config was read; `None`: unset (the source then fails
    /// and says so rather than asking the API anonymously).
    pub token: Option<Secret>,
    /// The Service port that serves MCP, by name; a Service without one uses its first port.
    pub port_name: String,
    /// The MCP endpoint's path unless a Service's `mcp.io/path` annotation says otherwise.
    pub path: String,
    /// Headers sent to every server found (expanded; secrets).
    pub headers: BTreeMap<String, Secret>,
    /// Variables the headers refer to that are unset.
    pub missing_env: Vec<String>,
}
