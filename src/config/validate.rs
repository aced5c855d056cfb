//! Raw config → validated [`Config`]. The only way a [`Config`] comes to be.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{
    ConfigError,
    expand::{Expanded, expand},
    raw::{RawFile, RawServer, RawSettings},
    types::{Adapter, Config, ServerSpec, Settings, UNIFIED_TOOLS},
};
use crate::secrets::{Secret, is_secret_name};

/// Environment lookup, injected so tests do not touch the process environment.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Validates a parsed file. `path` is only used in messages.
pub fn validate(path: PathBuf, raw: RawFile, env: Lookup<'_>) -> Result<Config, ConfigError> {
    let v = Validator {
        path: path.clone(),
        env,
    };
    let mut warnings = Vec::new();
    let settings = v.settings(raw.orchestrator)?;

    let mut servers: Vec<ServerSpec> = Vec::new();
    for (section, entries) in [("servers", raw.servers), ("mcpServers", raw.mcp_servers)] {
        for (id, value) in entries {
            let at = format!("{section}.{id}");
            if let Some(prev) = servers.iter().find(|s| s.id == id) {
                return Err(v.invalid(
                    &at,
                    format!(
                        "server id `{id}` is defined twice (also in {}); ids must be unique",
                        prev.section
                    ),
                ));
            }
            servers.push(v.server(section, &id, value, &mut warnings)?);
        }
    }

    let routing = v.routing(raw.routing, &servers)?;
    Ok(Config {
        path,
        servers,
        routing,
        settings,
        warnings,
    })
}

struct Validator<'a> {
    path: PathBuf,
    env: Lookup<'a>,
}

impl Validator<'_> {
    fn invalid(&self, at: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            at: at.to_owned(),
            message: message.into(),
        }
    }

    fn parse<T: DeserializeOwned>(&self, at: &str, value: Value) -> Result<T, ConfigError> {
        serde_json::from_value(value).map_err(|e| self.invalid(at, e.to_string()))
    }

    fn expand(&self, at: &str, s: &str) -> Result<Expanded, ConfigError> {
        expand(s, self.env).map_err(|e| self.invalid(at, e.to_string()))
    }

    fn server(
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
        let raw: RawServer = self.parse(&at, value)?;

        let remote_kind = match raw.kind.as_deref() {
            None => raw.url.is_some(),
            Some("stdio") => false,
            Some("http" | "streamable-http") => true,
            Some("sse") => {
                return Err(self.invalid(
                    &format!("{at}.type"),
                    "the legacy HTTP+SSE transport is not supported; use the server's streamable HTTP endpoint, or wrap it with a stdio bridge such as `npx mcp-remote <url>`",
                ));
            }
            Some(other) => {
                return Err(self.invalid(
                    &format!("{at}.type"),
                    format!("unknown transport `{other}`; expected `stdio` or `http`"),
                ));
            }
        };
        if remote_kind {
            return self.remote_server(section, id, raw, &at);
        }
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

        let required = self.required(&raw.required_env, &env, &mut missing, &at)?;
        missing.sort();
        missing.dedup();

        let secrets = env
            .iter()
            .filter(|(k, _)| is_secret_name(k))
            .chain(required.iter())
            .map(|(_, v)| v.clone())
            .collect();

        let mut adapt = BTreeMap::new();
        for (tool, a) in raw.adapt {
            if !UNIFIED_TOOLS.contains(&tool.as_str()) {
                return Err(self.invalid(
                    &format!("{at}.adapt.{tool}"),
                    format!(
                        "unknown unified tool `{tool}`; expected one of {}",
                        UNIFIED_TOOLS.join(", ")
                    ),
                ));
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

        let timeout = raw
            .timeout
            .map(|t| self.seconds(&format!("{at}.timeout"), t))
            .transpose()?;

        Ok(ServerSpec {
            id: id.to_owned(),
            section,
            name: raw.name,
            description: raw.description,
            command: command.value,
            args,
            cwd,
            env,
            required_env: raw.required_env,
            required_values: required,
            missing_env: missing,
            inherit_env: raw.inherit_env,
            disabled: raw.disabled,
            tools: raw.tools,
            timeout,
            secrets,
            adapt,
            embedding_space: raw.embedding_space,
            namespace: raw.namespace.unwrap_or(true),
            pin_tools: raw.pin_tools,
            remote: None,
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

    /// A server reached over streamable HTTP (Claude Code's `{"type": "http", "url", "headers"}`).
    fn remote_server(
        &self,
        section: &'static str,
        id: &str,
        raw: RawServer,
        at: &str,
    ) -> Result<ServerSpec, ConfigError> {
        if raw.command.is_some() || !raw.args.is_empty() || raw.cwd.is_some() || !raw.env.is_empty()
        {
            return Err(self.invalid(
                at,
                "a remote server (`url`) has no `command`, `args`, `cwd` or `env`; those belong to stdio servers",
            ));
        }
        let raw_url = raw.url.ok_or_else(|| {
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
        for (k, v) in raw.headers.unwrap_or_default() {
            let e = self.expand(&format!("{at}.headers.{k}"), &v)?;
            missing.extend(e.missing);
            headers.insert(k, Secret::new(e.value));
        }
        let required = self.required(&raw.required_env, &BTreeMap::new(), &mut missing, at)?;
        missing.sort();
        missing.dedup();
        // Every header value may carry a credential (Authorization, X-API-Key, cookies…).
        let secrets = headers.values().chain(required.values()).cloned().collect();
        let timeout = raw
            .timeout
            .map(|t| self.seconds(&format!("{at}.timeout"), t))
            .transpose()?;
        Ok(ServerSpec {
            id: id.to_owned(),
            section,
            name: raw.name,
            description: raw.description,
            command: String::new(),
            args: Vec::new(),
            cwd: None,
            env: BTreeMap::new(),
            required_env: raw.required_env,
            required_values: required,
            missing_env: missing,
            inherit_env: false,
            disabled: raw.disabled,
            tools: raw.tools,
            timeout,
            secrets,
            adapt: BTreeMap::new(),
            embedding_space: raw.embedding_space,
            namespace: raw.namespace.unwrap_or(true),
            pin_tools: raw.pin_tools,
            remote: Some(super::types::Remote {
                url: url.value,
                headers,
            }),
        })
    }

    /// A path from the config, relative to the config file's directory.
    fn relative_to_file(&self, p: &str) -> PathBuf {
        let p = PathBuf::from(p);
        match self.path.parent() {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p,
        }
    }

    fn seconds(&self, at: &str, s: f64) -> Result<Duration, ConfigError> {
        if s.is_finite() && s > 0.0 && s <= 86_400.0 {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(self.invalid(
                at,
                format!("{s} is not a duration: use seconds, more than 0 and at most 86400"),
            ))
        }
    }

    fn settings(&self, raw: Option<Value>) -> Result<Settings, ConfigError> {
        let Some(raw) = raw else {
            return Ok(Settings::default());
        };
        let raw: RawSettings = self.parse("orchestrator", raw)?;
        let d = Settings::default();
        let secs = |key: &str, v: Option<f64>, default: Duration| match v {
            Some(v) => self.seconds(&format!("orchestrator.{key}"), v),
            None => Ok(default),
        };
        let count = |key: &str, v: Option<u32>, default: u32, min: u32| match v {
            Some(v) if v < min => Err(self.invalid(
                &format!("orchestrator.{key}"),
                format!("must be at least {min}"),
            )),
            Some(v) => Ok(v),
            None => Ok(default),
        };
        let max_message_bytes = match raw.max_message_bytes {
            Some(b) if b < 64 * 1024 => {
                return Err(
                    self.invalid("orchestrator.max_message_bytes", "must be at least 65536")
                );
            }
            Some(b) => usize::try_from(b).unwrap_or(usize::MAX),
            None => d.max_message_bytes,
        };
        Ok(Settings {
            default_timeout: secs("default_timeout", raw.default_timeout, d.default_timeout)?,
            retry_attempts: count("retry_attempts", raw.retry_attempts, d.retry_attempts, 1)?,
            health_check_interval: secs(
                "health_check_interval",
                raw.health_check_interval,
                d.health_check_interval,
            )?,
            health_check_timeout: secs(
                "health_check_timeout",
                raw.health_check_timeout,
                d.health_check_timeout,
            )?,
            health_check_failures: count(
                "health_check_failures",
                raw.health_check_failures,
                d.health_check_failures,
                1,
            )?,
            startup_timeout: secs("startup_timeout", raw.startup_timeout, d.startup_timeout)?,
            max_restarts: count("max_restarts", raw.max_restarts, d.max_restarts, 0)?,
            restart_window: secs("restart_window", raw.restart_window, d.restart_window)?,
            max_message_bytes,
            shutdown_grace: secs("shutdown_grace", raw.shutdown_grace, d.shutdown_grace)?,
            drain_timeout: secs("drain_timeout", raw.drain_timeout, d.drain_timeout)?,
            max_in_flight: count(
                "max_in_flight",
                raw.max_in_flight,
                d.max_in_flight as u32,
                1,
            )? as usize,
            cache_ttl: match raw.cache_ttl {
                Some(0.0) => Duration::ZERO,
                v => secs("cache_ttl", v, d.cache_ttl)?,
            },
            breaker: crate::unified::breaker::BreakerConfig {
                failure_rate: match raw.breaker_failure_rate {
                    Some(r) if r > 0.0 && r <= 1.0 => r,
                    Some(_) => {
                        return Err(self.invalid(
                            "orchestrator.breaker_failure_rate",
                            "must be within (0, 1]",
                        ));
                    }
                    None => d.breaker.failure_rate,
                },
                min_calls: count(
                    "breaker_min_calls",
                    raw.breaker_min_calls,
                    d.breaker.min_calls as u32,
                    1,
                )? as usize,
                window: secs("breaker_window", raw.breaker_window, d.breaker.window)?,
                cooldown: secs("breaker_cooldown", raw.breaker_cooldown, d.breaker.cooldown)?,
            },
            pin_tools: raw.pin_tools.unwrap_or(d.pin_tools),
            pin_file: match raw.pin_file {
                Some(p) => {
                    Some(self.relative_to_file(&self.expand("orchestrator.pin_file", &p)?.value))
                }
                None => None,
            },
        })
    }

    fn routing(
        &self,
        raw: Map<String, Value>,
        servers: &[ServerSpec],
    ) -> Result<BTreeMap<String, Vec<String>>, ConfigError> {
        let mut routing = BTreeMap::new();
        for (tool, chain) in raw {
            let at = format!("routing.{tool}");
            if !UNIFIED_TOOLS.contains(&tool.as_str()) {
                return Err(self.invalid(
                    &at,
                    format!(
                        "unknown unified tool `{tool}`; expected one of {}",
                        UNIFIED_TOOLS.join(", ")
                    ),
                ));
            }
            let chain: Vec<String> = self.parse(&at, chain)?;
            for id in &chain {
                if !servers.iter().any(|s| &s.id == id) {
                    return Err(
                        self.invalid(&at, format!("`{id}` is not a server defined in this file"))
                    );
                }
            }
            routing.insert(tool, chain);
        }
        // Unrouted unified tools default to config order of the servers that declare them.
        for tool in UNIFIED_TOOLS {
            if !routing.contains_key(*tool) {
                let chain: Vec<String> = servers
                    .iter()
                    .filter(|s| s.tools.iter().any(|t| t == tool))
                    .map(|s| s.id.clone())
                    .collect();
                if !chain.is_empty() {
                    routing.insert((*tool).to_owned(), chain);
                }
            }
        }
        Ok(routing)
    }
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('=') && !name.contains('\0')
}
