//! A server a discovery source found, and the one way it becomes a [`ServerSpec`].

use std::collections::BTreeMap;

use crate::{
    config::types::{ProtocolChoice, Remote, ServerSpec, Transport},
    report::ServerSource,
    secrets::Secret,
};

/// A remote server a discovery source found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Its id (the namespace of its tools).
    pub id: String,
    /// Its streamable-HTTP endpoint.
    pub url: String,
    /// Headers sent with every request; values are secrets.
    pub headers: BTreeMap<String, Secret>,
    /// Variables its headers need that are unset.
    pub missing_env: Vec<String>,
    /// Where it was found, for `status` (e.g. the SRV record or the Service).
    pub description: String,
}

impl ServerSpec {
    /// The spec of a server found by `source`: a remote server with the defaults a config entry
    /// with only `url` and `headers` would get.
    pub fn discovered(source: ServerSource, found: Found) -> Self {
        let secrets = found.headers.values().cloned().collect();
        ServerSpec {
            id: found.id,
            section: "discovery",
            name: None,
            description: Some(found.description),
            transport: Transport::Http(Remote {
                url: found.url,
                headers: found.headers,
            }),
            required_env: Vec::new(),
            required_values: BTreeMap::new(),
            missing_env: found.missing_env,
            disabled: false,
            tools: Vec::new(),
            timeout: None,
            secrets,
            adapt: BTreeMap::new(),
            embedding_space: None,
            namespace: true,
            pin_tools: None,
            capabilities: Vec::new(),
            protocol: ProtocolChoice::Auto,
            source,
        }
    }
}

/// Turns a name from a discovery source (an env variable's middle, a DNS label, a Service name)
/// into a server id: lowercase, and `_` for anything outside `[a-z0-9_-]`, so that the host-facing
/// tool names it prefixes stay valid.
pub fn server_id(name: &str) -> String {
    name.chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lowercase_and_tool_name_safe() {
        assert_eq!(server_id("WEATHER"), "weather");
        assert_eq!(server_id("My.Svc"), "my_svc");
        assert_eq!(server_id("a-b_C9"), "a-b_c9");
    }

    #[test]
    fn a_discovered_spec_is_remote_with_its_headers_as_secrets() {
        let spec = ServerSpec::discovered(
            ServerSource::Dns,
            Found {
                id: "alpha".into(),
                url: "http://alpha:8080/mcp".into(),
                headers: BTreeMap::from([("Authorization".into(), Secret::new("Bearer t"))]),
                missing_env: Vec::new(),
                description: "SRV alpha:8080".into(),
            },
        );
        assert_eq!(spec.source, ServerSource::Dns);
        assert_eq!(spec.remote().unwrap().url, "http://alpha:8080/mcp");
        assert_eq!(spec.secrets, vec![Secret::new("Bearer t")]);
        assert!(spec.namespace);
    }
}
