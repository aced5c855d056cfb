//! Asking DNS for `_mcp._tcp.<domain>` SRV records (and, with `use_addresses`, each target's
//! address) with hickory's resolver, against the configured nameserver or the system's.

use std::time::Duration;

use hickory_resolver::{
    TokioResolver,
    config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts},
    net::runtime::TokioRuntimeProvider,
    proto::rr::RData,
};

use super::{DiscoveryError, srv::SrvRecord};
use crate::config::discovery::DnsDiscovery;

/// How long one query may take; a source that does not answer keeps its last good set anyway.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// A resolver for one `orchestrator.discovery.dns` setting.
pub struct Dns {
    resolver: TokioResolver,
    name: String,
    use_addresses: bool,
}

impl Dns {
    /// A resolver asking `cfg.nameserver`, or the servers of `/etc/resolv.conf`.
    pub fn new(cfg: &DnsDiscovery) -> Result<Self, DiscoveryError> {
        let mut builder = match cfg.nameserver {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![server]),
                    TokioRuntimeProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio()
                .map_err(|e| DiscoveryError::Resolver(e.to_string()))?,
        };
        let mut opts = ResolverOpts::default();
        opts.timeout = QUERY_TIMEOUT;
        opts.attempts = 1;
        *builder.options_mut() = opts;
        let resolver = builder
            .build()
            .map_err(|e| DiscoveryError::Resolver(e.to_string()))?;
        Ok(Self {
            resolver,
            // Fully qualified, so that no search domain is appended.
            name: format!("_mcp._tcp.{}.", cfg.domain),
            use_addresses: cfg.use_addresses,
        })
    }

    /// The records now. No records (or no such name) is an empty set: the servers left. A
    /// timeout or a refused query is an error: the last good set stays.
    pub async fn records(&self) -> Result<Vec<SrvRecord>, DiscoveryError> {
        // Each round asks the server: an answer cached for its TTL would hide a change that the
        // interval is there to see.
        self.resolver.clear_cache();
        let lookup = match self.resolver.srv_lookup(self.name.as_str()).await {
            Ok(l) => l,
            Err(e) if e.is_no_records_found() => return Ok(Vec::new()),
            Err(e) => {
                return Err(DiscoveryError::Query {
                    name: self.name.clone(),
                    message: e.to_string(),
                });
            }
        };
        let mut records = Vec::new();
        for record in lookup.answers() {
            let RData::SRV(srv) = &record.data else {
                continue;
            };
            let target = srv.target.to_utf8().trim_end_matches('.').to_lowercase();
            let address = if self.use_addresses && !target.is_empty() {
                self.address(&target).await?
            } else {
                None
            };
            records.push(SrvRecord {
                target,
                port: srv.port,
                address,
            });
        }
        Ok(records)
    }

    /// A target's first address; `None` when it has none (the record is then skipped).
    async fn address(&self, target: &str) -> Result<Option<std::net::IpAddr>, DiscoveryError> {
        match self.resolver.lookup_ip(format!("{target}.")).await {
            Ok(ips) => Ok(ips.iter().next()),
            Err(e) if e.is_no_records_found() => Ok(None),
            Err(e) => Err(DiscoveryError::Query {
                name: target.to_owned(),
                message: e.to_string(),
            }),
        }
    }
}
