//! `orchestrator.discovery`: which sources find servers besides the file, each checked with
//! errors that name the key.

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use serde_json::Value;

use super::{Validator, is_env_name};
use crate::{
    config::{
        ConfigError,
        discovery::{DiscoveryConfig, DnsDiscovery, KubernetesDiscovery},
        raw::{RawDiscovery, RawDnsDiscovery, RawKubernetesDiscovery},
    },
    secrets::Secret,
};

/// DNS is re-read this often unless the config says otherwise: new servers show up within half
/// a minute, for one small query.
const DNS_INTERVAL: Duration = Duration::from_secs(30);
/// What marks a Service as an MCP server unless the config says otherwise.
pub(crate) const DEFAULT_LABEL_SELECTOR: &str = "mcp.io/server=true";
/// The Service port that serves MCP unless the config says otherwise.
const DEFAULT_PORT_NAME: &str = "mcp";

const AT: &str = "orchestrator.discovery";

impl Validator<'_> {
    pub(super) fn discovery(&self, raw: Option<Value>) -> Result<DiscoveryConfig, ConfigError> {
        let Some(raw) = raw else {
            return Ok(DiscoveryConfig::default());
        };
        let raw: RawDiscovery = self.parse(AT, raw)?;
        Ok(DiscoveryConfig {
            env: raw.env,
            dns: raw.dns.map(|d| self.dns(d)).transpose()?,
            kubernetes: raw.kubernetes.map(|k| self.kubernetes(k)).transpose()?,
        })
    }

    fn dns(&self, raw: RawDnsDiscovery) -> Result<DnsDiscovery, ConfigError> {
        let at = format!("{AT}.dns");
        let domain = raw
            .domain
            .map(|d| self.expand(&format!("{at}.domain"), &d))
            .transpose()?
            .map(|d| d.value.trim().trim_end_matches('.').to_owned())
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                self.invalid(
                    &format!("{at}.domain"),
                    "missing: the domain whose `_mcp._tcp` SRV records name the servers",
                )
            })?;
        if domain.split('.').any(|l| l.is_empty() || l.len() > 63) || domain.len() > 253 {
            return Err(self.invalid(
                &format!("{at}.domain"),
                format!("`{domain}` is not a domain name"),
            ));
        }
        let interval = match raw.interval {
            Some(s) => self.seconds(&format!("{at}.interval"), s)?,
            None => DNS_INTERVAL,
        };
        let nameserver = raw
            .nameserver
            .map(|n| self.nameserver(&format!("{at}.nameserver"), &n))
            .transpose()?;
        let path = raw.path.unwrap_or_else(|| "/mcp".to_owned());
        if !path.starts_with('/') {
            return Err(self.invalid(
                &format!("{at}.path"),
                format!("`{path}` must start with `/`"),
            ));
        }
        let scheme = match raw.scheme.as_deref() {
            None => None,
            Some(s @ ("http" | "https")) => Some(s.to_owned()),
            Some(other) => {
                return Err(self.invalid(
                    &format!("{at}.scheme"),
                    format!("`{other}` is not `http` or `https`"),
                ));
            }
        };
        let (headers, missing_env) = self.discovery_headers(&at, raw.headers)?;
        Ok(DnsDiscovery {
            domain,
            interval,
            nameserver,
            path,
            scheme,
            use_addresses: raw.use_addresses.unwrap_or(false),
            headers,
            missing_env,
        })
    }

    /// `IP` (port 53) or `IP:PORT`; names are refused, since resolving the resolver would need
    /// a resolver.
    fn nameserver(&self, at: &str, raw: &str) -> Result<SocketAddr, ConfigError> {
        let raw = self.expand(at, raw)?.value;
        if let Ok(addr) = raw.parse::<SocketAddr>() {
            return Ok(addr);
        }
        raw.parse::<std::net::IpAddr>()
            .map(|ip| SocketAddr::new(ip, 53))
            .map_err(|_| {
                self.invalid(
                    at,
                    format!("`{raw}` is not an IP address or IP:PORT (`[::1]:53` for IPv6)"),
                )
            })
    }

    fn kubernetes(&self, raw: RawKubernetesDiscovery) -> Result<KubernetesDiscovery, ConfigError> {
        let at = format!("{AT}.kubernetes");
        let namespace = raw
            .namespace
            .map(|n| self.expand(&format!("{at}.namespace"), &n))
            .transpose()?
            .map(|n| n.value)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                self.invalid(
                    &format!("{at}.namespace"),
                    "missing: the namespace whose Services are watched",
                )
            })?;
        // It becomes part of an API path and of every server's DNS name.
        if !is_dns_label(&namespace) {
            return Err(self.invalid(
                &format!("{at}.namespace"),
                format!("`{namespace}` is not a namespace name (lowercase letters, digits, `-`)"),
            ));
        }
        let api_url = raw
            .api_url
            .map(|u| self.expand(&format!("{at}.api_url"), &u))
            .transpose()?
            .map(|u| u.value.trim_end_matches('/').to_owned());
        if let Some(u) = &api_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(self.invalid(
                &format!("{at}.api_url"),
                format!("`{u}` is not an http:// or https:// URL"),
            ));
        }
        let token_env = raw.token_env.filter(|t| !t.is_empty());
        if let Some(name) = &token_env {
            if api_url.is_none() {
                return Err(self.invalid(
                    &format!("{at}.token_env"),
                    "needs `api_url`: in a cluster the service account's token is used",
                ));
            }
            if !is_env_name(name) || name.contains('$') {
                return Err(self.invalid(
                    &format!("{at}.token_env"),
                    format!("`{name}` is not a variable name (the name, not `${{…}}`)"),
                ));
            }
        }
        let token = token_env.as_deref().and_then(self.env).map(Secret::new);
        let port_name = raw
            .port_name
            .unwrap_or_else(|| DEFAULT_PORT_NAME.to_owned());
        if port_name.is_empty() {
            return Err(self.invalid(&format!("{at}.port_name"), "empty"));
        }
        let path = raw.path.unwrap_or_else(|| "/mcp".to_owned());
        if !path.starts_with('/') {
            return Err(self.invalid(
                &format!("{at}.path"),
                format!("`{path}` must start with `/`"),
            ));
        }
        let (headers, missing_env) = self.discovery_headers(&at, raw.headers)?;
        Ok(KubernetesDiscovery {
            namespace,
            label_selector: raw
                .label_selector
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_LABEL_SELECTOR.to_owned()),
            api_url,
            token_env,
            token,
            port_name,
            path,
            headers,
            missing_env,
        })
    }

    /// Headers for every server a source finds: expanded like a server's, values kept secret.
    fn discovery_headers(
        &self,
        at: &str,
        raw: Option<BTreeMap<String, String>>,
    ) -> Result<(BTreeMap<String, Secret>, Vec<String>), ConfigError> {
        let mut headers = BTreeMap::new();
        let mut missing = Vec::new();
        for (k, v) in raw.unwrap_or_default() {
            let e = self.expand(&format!("{at}.headers.{k}"), &v)?;
            missing.extend(e.missing);
            headers.insert(k, Secret::new(e.value));
        }
        missing.sort();
        missing.dedup();
        Ok((headers, missing))
    }
}

/// An RFC 1123 label, what Kubernetes accepts as a namespace name.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use std::{net::SocketAddr, path::Path, time::Duration};

    use serde_json::json;

    use crate::config::{Config, ConfigError, parse};

    fn parse_discovery(discovery: serde_json::Value) -> Result<Config, ConfigError> {
        let text = json!({"orchestrator": {"discovery": discovery}}).to_string();
        parse(Path::new("cfg.json"), &text, &|name| {
            (name == "MESH_TOKEN").then(|| "s3cret".to_owned())
        })
    }

    fn err(discovery: serde_json::Value) -> String {
        parse_discovery(discovery).unwrap_err().to_string()
    }

    #[test]
    fn off_unless_asked() {
        let c = parse(Path::new("cfg.json"), "{}", &|_| None).unwrap();
        assert_eq!(c.settings.discovery, Default::default());
    }

    #[test]
    fn dns_defaults_and_overrides() {
        let c =
            parse_discovery(json!({"env": true, "dns": {"domain": "mcp.example.com."}})).unwrap();
        let d = c.settings.discovery;
        assert!(d.env);
        let dns = d.dns.unwrap();
        assert_eq!(dns.domain, "mcp.example.com");
        assert_eq!(dns.interval, Duration::from_secs(30));
        assert_eq!(dns.path, "/mcp");
        assert_eq!(dns.nameserver, None);
        assert_eq!(dns.scheme, None);

        let c = parse_discovery(json!({"dns": {
            "domain": "svc.test", "interval": 0.5, "nameserver": "127.0.0.1:5353",
            "path": "/v1/mcp", "scheme": "https", "use_addresses": true,
            "headers": {"Authorization": "Bearer ${MESH_TOKEN}", "X-Other": "${UNSET_ONE}"}
        }}))
        .unwrap();
        let dns = c.settings.discovery.dns.unwrap();
        assert_eq!(dns.interval, Duration::from_millis(500));
        assert_eq!(
            dns.nameserver,
            Some("127.0.0.1:5353".parse::<SocketAddr>().unwrap())
        );
        assert_eq!(dns.scheme.as_deref(), Some("https"));
        assert!(dns.use_addresses);
        assert_eq!(dns.headers["Authorization"].expose(), "Bearer s3cret");
        assert_eq!(dns.missing_env, ["UNSET_ONE"]);
        let plain_ip = parse_discovery(json!({"dns": {"domain": "a.b", "nameserver": "10.0.0.1"}}));
        assert_eq!(
            plain_ip.unwrap().settings.discovery.dns.unwrap().nameserver,
            Some("10.0.0.1:53".parse().unwrap())
        );
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let e = err(json!({"dns": {}}));
        assert!(
            e.starts_with("cfg.json: orchestrator.discovery.dns.domain: missing"),
            "{e}"
        );
        let e = err(json!({"dns": {"domain": "a..b"}}));
        assert!(e.contains("orchestrator.discovery.dns.domain"), "{e}");
        let e = err(json!({"dns": {"domain": "a.b", "nameserver": "dns.local"}}));
        assert!(e.contains("orchestrator.discovery.dns.nameserver"), "{e}");
        let e = err(json!({"dns": {"domain": "a.b", "scheme": "ftp"}}));
        assert!(e.contains("orchestrator.discovery.dns.scheme"), "{e}");
        let e = err(json!({"dns": {"domain": "a.b", "path": "mcp"}}));
        assert!(e.contains("orchestrator.discovery.dns.path"), "{e}");
        let e = err(json!({"dns": {"domain": "a.b", "interval": 0}}));
        assert!(e.contains("orchestrator.discovery.dns.interval"), "{e}");
        let e = err(json!({"dns": {"domain": "a.b", "intervall": 5}}));
        assert!(
            e.contains("orchestrator.discovery") && e.contains("intervall"),
            "{e}"
        );
        let e = err(json!({"consul": {}}));
        assert!(
            e.contains("orchestrator.discovery") && e.contains("consul"),
            "{e}"
        );
        let e = err(json!({"kubernetes": {}}));
        assert!(
            e.contains("orchestrator.discovery.kubernetes.namespace: missing"),
            "{e}"
        );
        let e = err(json!({"kubernetes": {"namespace": "mcp", "api_url": "localhost:6443"}}));
        assert!(
            e.contains("orchestrator.discovery.kubernetes.api_url"),
            "{e}"
        );
    }

    #[test]
    fn kubernetes_defaults_and_overrides() {
        let c = parse_discovery(json!({"kubernetes": {"namespace": "tools"}})).unwrap();
        let k = c.settings.discovery.kubernetes.unwrap();
        assert_eq!(k.namespace, "tools");
        assert_eq!(k.label_selector, "mcp.io/server=true");
        assert_eq!(k.api_url, None);
        assert_eq!((k.port_name.as_str(), k.path.as_str()), ("mcp", "/mcp"));
        assert_eq!((k.token_env, k.token), (None, None));

        let c = parse_discovery(json!({"kubernetes": {
            "namespace": "tools", "label_selector": "team=ml,mcp", "api_url": "http://127.0.0.1:8001/",
            "token_env": "MESH_TOKEN", "port_name": "http", "path": "/v1/mcp"
        }}))
        .unwrap();
        let k = c.settings.discovery.kubernetes.unwrap();
        assert_eq!(k.api_url.as_deref(), Some("http://127.0.0.1:8001"));
        assert_eq!(k.token.as_ref().map(|t| t.expose()), Some("s3cret"));
        assert_eq!((k.port_name.as_str(), k.path.as_str()), ("http", "/v1/mcp"));
        assert_eq!(k.label_selector, "team=ml,mcp");
        let unset = parse_discovery(json!({"kubernetes": {
            "namespace": "tools", "api_url": "https://k8s:6443", "token_env": "NOT_SET_HERE"
        }}));
        let k = unset.unwrap().settings.discovery.kubernetes.unwrap();
        assert_eq!(k.token_env.as_deref(), Some("NOT_SET_HERE"));
        assert_eq!(k.token, None);
    }

    #[test]
    fn kubernetes_errors_name_the_key() {
        let e = err(json!({"kubernetes": {"namespace": "Tools_1"}}));
        assert!(
            e.contains("orchestrator.discovery.kubernetes.namespace"),
            "{e}"
        );
        let e = err(json!({"kubernetes": {"namespace": "t", "token_env": "T"}}));
        assert!(
            e.contains("orchestrator.discovery.kubernetes.token_env: needs `api_url`"),
            "{e}"
        );
        let e = err(json!({"kubernetes": {
            "namespace": "t", "api_url": "http://k", "token_env": "${T}"
        }}));
        assert!(e.contains("kubernetes.token_env"), "{e}");
        let e = err(json!({"kubernetes": {"namespace": "t", "path": "mcp"}}));
        assert!(e.contains("orchestrator.discovery.kubernetes.path"), "{e}");
        let e = err(json!({"kubernetes": {"namespace": "t", "port_name": ""}}));
        assert!(
            e.contains("orchestrator.discovery.kubernetes.port_name"),
            "{e}"
        );
        let e = err(json!({"kubernetes": {"namespace": "t", "url_annotation": "x"}}));
        assert!(e.contains("url_annotation"), "{e}");
    }
}
