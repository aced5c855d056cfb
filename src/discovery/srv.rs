//! SRV records → servers: the pure half of DNS discovery.
//!
//! Each record of `_mcp._tcp.<domain>` is one server at `<scheme>://<target>:<port><path>`.
//! Its id is the first label of the target (`weather.mcp.example.com.` → `weather`); records
//! whose targets share a first label are told apart by port (`weather_8080`, `weather_8081`),
//! so that ids do not depend on the order of the answer. Priority and weight are not used:
//! every record is a server of its own, not a replica of one.

use std::{collections::BTreeMap, net::IpAddr};

use crate::config::{
    discovery::DnsDiscovery,
    found::{Found, server_id},
};

/// One SRV record, with its target's address when the URL is to carry it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SrvRecord {
    /// The target, lowercase, without the trailing dot.
    pub target: String,
    /// Its port.
    pub port: u16,
    /// Its address, when `use_addresses` asked for one.
    pub address: Option<IpAddr>,
}

/// The servers the records name, and a message per record that could not be used.
pub fn servers(records: &[SrvRecord], cfg: &DnsDiscovery) -> (Vec<Found>, Vec<String>) {
    let mut records = records.to_vec();
    records.sort();
    records.dedup_by(|b, a| a.target == b.target && a.port == b.port);
    let mut by_label: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *by_label.entry(label(&r.target)).or_default() += 1;
    }
    let mut found: Vec<Found> = Vec::new();
    let mut problems = Vec::new();
    for r in &records {
        let shown = format!("{}:{}", r.target, r.port);
        // RFC 2782: a target of "." says the service is decidedly not available there.
        if r.target.is_empty() {
            continue;
        }
        let first = label(&r.target);
        let id = if by_label[&first] > 1 {
            format!("{first}_{}", r.port)
        } else {
            first
        };
        if found.iter().any(|f| f.id == id) {
            problems.push(format!(
                "{shown}: server id `{id}` is taken by another record; give the target its own name"
            ));
            continue;
        }
        let host = match (cfg.use_addresses, r.address) {
            (false, _) => r.target.clone(),
            (true, Some(IpAddr::V4(a))) => a.to_string(),
            (true, Some(IpAddr::V6(a))) => format!("[{a}]"),
            (true, None) => {
                problems.push(format!("{shown}: the target has no address"));
                continue;
            }
        };
        let scheme = cfg
            .scheme
            .clone()
            .unwrap_or_else(|| if r.port == 443 { "https" } else { "http" }.to_owned());
        found.push(Found {
            id,
            url: format!("{scheme}://{host}:{}{}", r.port, cfg.path),
            headers: cfg.headers.clone(),
            missing_env: cfg.missing_env.clone(),
            description: format!("SRV _mcp._tcp.{} → {shown}", cfg.domain),
        });
    }
    (found, problems)
}

fn label(target: &str) -> String {
    server_id(target.split('.').next().unwrap_or(target))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cfg() -> DnsDiscovery {
        DnsDiscovery {
            domain: "mcp.test".into(),
            interval: Duration::from_secs(30),
            nameserver: None,
            path: "/mcp".into(),
            scheme: None,
            use_addresses: false,
            headers: BTreeMap::new(),
            missing_env: Vec::new(),
        }
    }

    fn srv(target: &str, port: u16) -> SrvRecord {
        SrvRecord {
            target: target.into(),
            port,
            address: None,
        }
    }

    #[test]
    fn one_server_per_record_named_by_the_target() {
        let (found, problems) = servers(
            &[srv("weather.mcp.test", 443), srv("Search.mcp.test", 8080)],
            &cfg(),
        );
        assert!(problems.is_empty());
        let got: Vec<_> = found.iter().map(|f| (&*f.id, &*f.url)).collect();
        assert_eq!(
            got,
            [
                ("search", "http://Search.mcp.test:8080/mcp"),
                ("weather", "https://weather.mcp.test:443/mcp")
            ]
        );
        assert_eq!(
            found[1].description,
            "SRV _mcp._tcp.mcp.test → weather.mcp.test:443"
        );
    }

    #[test]
    fn a_shared_label_is_told_apart_by_port_whatever_the_order() {
        let a = servers(
            &[srv("tools.a.test", 9001), srv("tools.b.test", 9000)],
            &cfg(),
        )
        .0;
        let b = servers(
            &[srv("tools.b.test", 9000), srv("tools.a.test", 9001)],
            &cfg(),
        )
        .0;
        assert_eq!(a, b);
        let ids: Vec<_> = a.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["tools_9001", "tools_9000"]);
        // Same label and port in two domains: the second cannot have an id of its own.
        let (found, problems) = servers(&[srv("x.a.test", 80), srv("x.b.test", 80)], &cfg());
        assert_eq!(found.len(), 1);
        assert!(problems[0].contains("x.b.test:80"), "{problems:?}");
    }

    #[test]
    fn addresses_scheme_and_path_from_the_config() {
        let mut c = cfg();
        c.use_addresses = true;
        c.scheme = Some("https".into());
        c.path = "/v2/mcp".into();
        let mut v6 = srv("six.mcp.test", 8443);
        v6.address = Some("::1".parse().unwrap());
        let mut v4 = srv("four.mcp.test", 80);
        v4.address = Some("127.0.0.1".parse().unwrap());
        let (found, problems) = servers(&[v6, v4, srv("none.mcp.test", 80), srv("", 80)], &c);
        let urls: Vec<_> = found.iter().map(|f| f.url.as_str()).collect();
        assert_eq!(
            urls,
            ["https://127.0.0.1:80/v2/mcp", "https://[::1]:8443/v2/mcp"]
        );
        assert_eq!(problems, ["none.mcp.test:80: the target has no address"]);
    }
}
