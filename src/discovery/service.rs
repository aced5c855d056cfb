//! Kubernetes Services → servers: the pure half of Kubernetes discovery.
//!
//! Each Service the label selector matches is one server, with the Service's name as its id, at
//! `<scheme>://<name>.<namespace>.svc:<port><path>`: the cluster DNS name, so that the
//! orchestrator follows the Service (and whatever Pods back it) without watching Endpoints.
//!
//! - port: the one named `port_name` (default `mcp`), else the Service's first;
//! - path: the `mcp.io/path` annotation, else `path` (default `/mcp`);
//! - scheme: the `mcp.io/scheme` annotation (`http` or `https`), else `https` on port 443 and
//!   `http` elsewhere (as DNS discovery does);
//! - `mcp.io/url`: a whole URL that replaces all of the above, for a server the cluster DNS name
//!   does not reach (an external endpoint, a port-forward, a test).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;

use crate::config::{
    discovery::KubernetesDiscovery,
    found::{Found, server_id},
};

/// Replaces the whole URL.
pub const URL_ANNOTATION: &str = "mcp.io/url";
/// The endpoint's path on the Service.
pub const PATH_ANNOTATION: &str = "mcp.io/path";
/// `http` or `https`.
pub const SCHEME_ANNOTATION: &str = "mcp.io/scheme";

/// The servers the Services name, sorted by id, and a message per Service that could not be
/// used.
pub fn servers<'a>(
    services: impl IntoIterator<Item = &'a Service>,
    cfg: &KubernetesDiscovery,
) -> (Vec<Found>, Vec<String>) {
    let mut found: Vec<Found> = Vec::new();
    let mut problems = Vec::new();
    for svc in services {
        match server(svc, cfg) {
            // Names are unique in a namespace and already valid ids; a clash could only come
            // from a name the API would refuse, and is reported rather than silently merged.
            Ok(f) if found.iter().any(|o| o.id == f.id) => {
                problems.push(format!("{}: server id `{}` is taken", f.description, f.id));
            }
            Ok(f) => found.push(f),
            Err(p) => problems.push(p),
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    (found, problems)
}

fn server(svc: &Service, cfg: &KubernetesDiscovery) -> Result<Found, String> {
    let name = svc
        .metadata
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or("a Service without a name")?;
    let namespace = svc.metadata.namespace.as_deref().unwrap_or(&cfg.namespace);
    let shown = format!("Service {namespace}/{name}");
    let empty = BTreeMap::new();
    let annotations = svc.metadata.annotations.as_ref().unwrap_or(&empty);
    let annotation = |key: &str| annotations.get(key).map(|v| v.trim());
    let url = match annotation(URL_ANNOTATION) {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => url.to_owned(),
        Some(_) => {
            return Err(format!(
                "{shown}: annotation {URL_ANNOTATION} is not an http:// or https:// URL"
            ));
        }
        None => {
            let port = port(svc, &cfg.port_name).ok_or_else(|| format!("{shown}: no ports"))?;
            let path = annotation(PATH_ANNOTATION).unwrap_or(&cfg.path);
            if !path.starts_with('/') {
                return Err(format!(
                    "{shown}: annotation {PATH_ANNOTATION} `{path}` must start with `/`"
                ));
            }
            let scheme = match annotation(SCHEME_ANNOTATION) {
                Some(s @ ("http" | "https")) => s,
                Some(other) => {
                    return Err(format!(
                        "{shown}: annotation {SCHEME_ANNOTATION} `{other}` is not `http` or `https`"
                    ));
                }
                None if port == 443 => "https",
                None => "http",
            };
            format!("{scheme}://{name}.{namespace}.svc:{port}{path}")
        }
    };
    Ok(Found {
        id: server_id(name),
        url,
        headers: cfg.headers.clone(),
        missing_env: cfg.missing_env.clone(),
        description: shown,
    })
}

/// The port named `port_name`, else the first; `None` when the Service has none (or only
/// ports outside 1–65535, which the API refuses anyway).
fn port(svc: &Service, port_name: &str) -> Option<u16> {
    let ports = svc.spec.as_ref()?.ports.as_deref()?;
    let chosen = ports
        .iter()
        .find(|p| p.name.as_deref() == Some(port_name))
        .or_else(|| ports.first())?;
    u16::try_from(chosen.port).ok().filter(|p| *p != 0)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::core::v1::{ServicePort, ServiceSpec},
        apimachinery::pkg::apis::meta::v1::ObjectMeta,
    };

    use super::*;

    fn cfg() -> KubernetesDiscovery {
        KubernetesDiscovery {
            namespace: "tools".into(),
            label_selector: "mcp.io/server=true".into(),
            api_url: None,
            token_env: None,
            token: None,
            port_name: "mcp".into(),
            path: "/mcp".into(),
            headers: BTreeMap::new(),
            missing_env: Vec::new(),
        }
    }

    fn svc(name: &str, ports: &[(Option<&str>, i32)], annotations: &[(&str, &str)]) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("tools".into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| ((*k).into(), (*v).into()))
                        .collect(),
                ),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                ports: Some(
                    ports
                        .iter()
                        .map(|(n, p)| ServicePort {
                            name: n.map(Into::into),
                            port: *p,
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_cluster_dns_name_the_named_port_and_the_default_path() {
        let services = [
            svc(
                "weather",
                &[(Some("metrics"), 9090), (Some("mcp"), 8080)],
                &[],
            ),
            svc("search", &[(Some("http"), 80)], &[]),
            svc("secure", &[(None, 443)], &[]),
        ];
        let (found, problems) = servers(&services, &cfg());
        assert!(problems.is_empty(), "{problems:?}");
        let got: Vec<_> = found.iter().map(|f| (&*f.id, &*f.url)).collect();
        assert_eq!(
            got,
            [
                ("search", "http://search.tools.svc:80/mcp"),
                ("secure", "https://secure.tools.svc:443/mcp"),
                ("weather", "http://weather.tools.svc:8080/mcp"),
            ]
        );
        assert_eq!(found[2].description, "Service tools/weather");
    }

    #[test]
    fn annotations_set_path_scheme_or_the_whole_url() {
        let services = [
            svc(
                "a",
                &[(None, 8443)],
                &[(PATH_ANNOTATION, "/v2/mcp"), (SCHEME_ANNOTATION, "https")],
            ),
            svc("b", &[], &[(URL_ANNOTATION, " http://127.0.0.1:9000/mcp ")]),
        ];
        let (found, problems) = servers(&services, &cfg());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(found[0].url, "https://a.tools.svc:8443/v2/mcp");
        assert_eq!(found[1].url, "http://127.0.0.1:9000/mcp");
    }

    #[test]
    fn unusable_services_are_named_and_skipped() {
        let services = [
            svc("no-ports", &[], &[]),
            svc("bad-url", &[(None, 80)], &[(URL_ANNOTATION, "ftp://x")]),
            svc("bad-path", &[(None, 80)], &[(PATH_ANNOTATION, "mcp")]),
            svc("bad-scheme", &[(None, 80)], &[(SCHEME_ANNOTATION, "grpc")]),
            svc("ok", &[(None, 80)], &[]),
        ];
        let (found, problems) = servers(&services, &cfg());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, "ok");
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert_eq!(problems[0], "Service tools/no-ports: no ports");
        assert!(problems[1].contains(URL_ANNOTATION));
        assert!(problems[2].contains(PATH_ANNOTATION));
        assert!(problems[3].contains(SCHEME_ANNOTATION));
    }
}
