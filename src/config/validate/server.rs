//! One entry of `servers` or `mcpServers`: what every server has (env needs, metadata, routing
//! hints), then how it is reached: a launched stdio child or a remote streamable-HTTP server.

use std::{collections::BTreeMap, path::PathBuf};

use serde_json::Value;

use super::{Validator, is_env_name};
use crate::{
    config::{
        ConfigError,
        raw::RawServer,
        types::{Adapter, Launch, Remote, ServerSpec, Transport, UnifiedTool},
    },
    secrets::{Secret, is_secret_name},
};

/// Which transport an entry asks for.
enum Kind {
    Stdio,
    Http,
}

/// What expanding a transport's fields produced besides the transport itself.
struct Reached {
    transport: Transport,
    /// Variables referenced by `${…}` that are unset.
    missing: Vec<String>,
    /// Values to scrub from anything repeated from this server.
    secrets: Vec<Secret>,
    /// The server's own `env`, where `required_env` values are looked up first.
    own_env: BTreeMap<String, Secret>,
}

impl Validator<'_> {
    pub(super) fn server(
        &self,
        section: &'static str,
        id: &str,
        value: Value,
        warnings: &mut Vec<String>,
    ) -> Result<ServerSpec, ConfigError> {
        let at = format!("{section}.{id}");
        if id.trim().is_empty() {
            return Err(self.invalid(&at, "server ids must not be empty"));
        }
        if !value.is_object() {
            return Err(self.invalid(&at, "a server must be a JSON object"));
        }
        let mut raw: RawServer = self.parse(&at, value)?;
        let reached = match self.kind(&raw, &at)? {
            Kind::Stdio => self.launch(&mut raw, &at, warnings)?,
            Kind::Http => self.remote(&mut raw, &at)?,
        };
        let mut missing = reached.missing;
        let required = self.required(&raw.required_env, &reached.own_env, &mut missing, &at)?;
        missing.sort();
        missing.dedup();
        let secrets = reached
            .secrets
            .into_iter()
            .chain(required.values().cloned())
            .collect();
        let adapt = self.adapters(std::mem::take(&mut raw.adapt), &at)?;
        let timeout = raw
            .timeout
            .map(|t| self.seconds(&format!("{at}.timeout"), t))
            .transpose()?;
        Ok(ServerSpec {
            id: id.to_owned(),
            section,
            name: raw.name,
            description: raw.description,
            transport: reached.transport,
            required_env: raw.required_env,
            required_values: required,
            missing_env: missing,
            disabled: raw.disabled,
            tools: raw.tools,
            timeout,
            secrets,
            adapt,
            embedding_space: raw.embedding_space,
            namespace: raw.namespace.unwrap_or(true),
            pin_tools: raw.pin_tools,
            capabilities: raw.capabilities,
            protocol: raw.protocol.unwrap_or_default(),
            source: crate::report::ServerSource::Config,
        })
    }

    /// Claude Code's `type` (a `url` alone means `http`).
    fn kind(&self, raw: &RawServer, at: &str) -> Result<Kind, ConfigError> {
        match raw.kind.as_deref() {
            None if raw.url.is_some() => Ok(Kind::Http),
            None | Some("stdio") => Ok(Kind::Stdio),
            Some("http" | "streamable-http") => Ok(Kind::Http),
            Some("sse") => Err(self.invalid(
                &format!("{at}.type"),
                "the legacy HTTP+SSE transport is not supported; use the server's streamable HTTP endpoint, or wrap it with a stdio bridge such as `npx mcp-remote <url>`",
            )),
            Some(other) => Err(self.invalid(
                &format!("{at}.type"),
                format!("unknown transport `{other}`; expected `stdio` or `http`"),
            )),
        }
    }

    /// A child launched with `command`.
    fn launch(
        &self,
        raw: &mut RawServer,
        at: &str,
        warnings: &mut Vec<String>,
    ) -> Result<Reached, ConfigError> {
        if raw.url.is_some() || raw.headers.is_some() {
            return Err(self.invalid(
                &format!("{at}.url"),
                "`url` and `headers` belong to remote servers (type `http`), not to a `command`",
            ));
        }
        if raw.port.is_some() {
            warnings.push(format!(
                "{}: {at}.port is ignored: servers are launched as stdio children",
                self.path.display()
            ));
        }
        let mut missing = Vec::new();
        let command_raw = raw
            .command
            .take()
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| {
                self.invalid(
                    &format!("{at}.command"),
                    "missing: every server needs a `command` to launch",
                )
            })?;
        let command = self.expand(&format!("{at}.command"), &command_raw)?;
        missing.extend(command.missing);
        let mut args = Vec::with_capacity(raw.args.len());
        for (i, a) in raw.args.iter().enumerate() {
            let e = self.expand(&format!("{at}.args[{i}]"), a)?;
            missing.extend(e.missing);
            args.push(e.value);
        }
        let cwd = match &raw.cwd {
            Some(c) => {
                let e = self.expand(&format!("{at}.cwd"), c)?;
                missing.extend(e.missing);
                Some(PathBuf::from(e.value))
            }
            None => None,
        };
        let mut env = BTreeMap::new();
        for (k, v) in &raw.env {
            if !is_env_name(k) {
                return Err(self.invalid(
                    &format!("{at}.env"),
                    format!("`{k}` is not a valid environment variable name"),
                ));
            }
            let e = self.expand(&format!("{at}.env.{k}"), v)?;
            // A pass-through such as `"X": "${X}"` with X unset means "do not set X", not
            // "set X to the empty string" (which would, e.g., blank out a base URL default).
            if e.missing.is_empty() {
                env.insert(k.clone(), Secret::new(e.value));
            }
        }
        let secrets = env
            .iter()
            .filter(|(k, _)| is_secret_name(k))
            .map(|(_, v)| v.clone())
            .collect();
        Ok(Reached {
            transport: Transport::Stdio(Launch {
                command: command.value,
                args,
                cwd,
                env: env.clone(),
                inherit_env: raw.inherit_env,
            }),
            missing,
            secrets,
            own_env: env,
        })
    }

    /// A server reached over streamable HTTP (Claude Code's `{"type": "http", "url", "headers"}`).
    fn remote(&self, raw: &mut RawServer, at: &str) -> Result<Reached, ConfigError> {
        if raw.command.is_some() || !raw.args.is_empty() || raw.cwd.is_some() || !raw.env.is_empty()
        {
            return Err(self.invalid(
                at,
                "a remote server (`url`) has no `command`, `args`, `cwd` or `env`; those belong to stdio servers",
            ));
        }
        let raw_url = raw.url.take().ok_or_else(|| {
            self.invalid(
                &format!("{at}.url"),
                "missing: a remote server needs a `url`",
            )
        })?;
        let url = self.expand(&format!("{at}.url"), &raw_url)?;
        let mut missing = url.missing;
        if !(url.value.starts_with("http://") || url.value.starts_with("https://"))
            && missing.is_empty()
        {
            return Err(self.invalid(
                &format!("{at}.url"),
                format!("`{}` is not an http:// or https:// URL", url.value),
            ));
        }
        let mut headers = BTreeMap::new();
        for (k, v) in raw.headers.take().unwrap_or_default() {
            let e = self.expand(&format!("{at}.headers.{k}"), &v)?;
            missing.extend(e.missing);
            headers.insert(k, Secret::new(e.value));
        }
        // Every header value may carry a credential (Authorization, X-API-Key, cookies…).
        let secrets = headers.values().cloned().collect();
        Ok(Reached {
            transport: Transport::Http(Remote {
                url: url.value,
                headers,
            }),
            missing,
            secrets,
            own_env: BTreeMap::new(),
        })
    }

    /// Values of `required_env`: from the server's own `env` if it sets them, else from our
    /// environment; unset (or empty) ones go to `missing`.
    fn required(
        &self,
        names: &[String],
        own: &BTreeMap<String, Secret>,
        missing: &mut Vec<String>,
        at: &str,
    ) -> Result<BTreeMap<String, Secret>, ConfigError> {
        let mut required = BTreeMap::new();
        for name in names {
            if !is_env_name(name) {
                return Err(self.invalid(
                    &format!("{at}.required_env"),
                    format!("`{name}` is not a valid environment variable name"),
                ));
            }
            let value = own
                .get(name)
                .cloned()
                .or_else(|| (self.env)(name).filter(|v| !v.is_empty()).map(Secret::new));
            match value {
                Some(v) => {
                    required.insert(name.clone(), v);
                }
                None => missing.push(name.clone()),
            }
        }
        Ok(required)
    }

    /// `adapt`: how unified tools map onto this server's own tool names and arguments.
    fn adapters(
        &self,
        raw: BTreeMap<String, crate::config::raw::RawAdapter>,
        at: &str,
    ) -> Result<BTreeMap<String, Adapter>, ConfigError> {
        let mut adapt = BTreeMap::new();
        for (tool, a) in raw {
            if UnifiedTool::from_name(&tool).is_none() {
                return Err(
                    self.invalid(&format!("{at}.adapt.{tool}"), UnifiedTool::unknown(&tool))
                );
            }
            adapt.insert(
                tool,
                Adapter {
                    tool: a.tool,
                    rename: a.rename,
                    defaults: a.defaults,
                },
            );
        }
        Ok(adapt)
    }
}
