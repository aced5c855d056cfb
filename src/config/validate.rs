//! Raw config → validated [`Config`]. The only way a [`Config`] comes to be.
//!
//! This file walks the document and holds the helpers every part uses (errors that name the file
//! and key, `${VAR}` expansion, durations); [`server`], [`settings`] and [`routing`] validate one
//! section each.

use std::{path::PathBuf, time::Duration};

use serde::de::DeserializeOwned;
use serde_json::Value;

mod alerts;
mod discovery;
mod jobs;
mod routing;
mod server;
mod settings;

use super::{
    ConfigError,
    expand::{Expanded, expand},
    raw::{RawFile, RawWorkflows},
    types::{Config, ServerSpec},
};

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
    let workflows_dir = v.workflows_dir(raw.workflows)?;
    let jobs = v.jobs(raw.jobs)?;
    let alerts = v.alerts(raw.alerts, &servers)?;
    Ok(Config {
        alerts,
        jobs,
        path,
        servers,
        routing,
        settings,
        warnings,
        workflows_dir,
    })
}

pub(super) struct Validator<'a> {
    path: PathBuf,
    env: Lookup<'a>,
}

impl Validator<'_> {
    pub(super) fn invalid(&self, at: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            at: at.to_owned(),
            message: message.into(),
        }
    }

    pub(super) fn parse<T: DeserializeOwned>(
        &self,
        at: &str,
        value: Value,
    ) -> Result<T, ConfigError> {
        serde_json::from_value(value).map_err(|e| self.invalid(at, e.to_string()))
    }

    pub(super) fn expand(&self, at: &str, s: &str) -> Result<Expanded, ConfigError> {
        expand(s, self.env).map_err(|e| self.invalid(at, e.to_string()))
    }

    /// A path from the config, relative to the config file's directory.
    pub(super) fn relative_to_file(&self, p: &str) -> PathBuf {
        let p = PathBuf::from(p);
        match self.path.parent() {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p,
        }
    }

    /// `workflows.dir`, relative to the config file; `workflows/` beside it by default.
    fn workflows_dir(&self, raw: Option<Value>) -> Result<PathBuf, ConfigError> {
        let raw: RawWorkflows = match raw {
            Some(v) => self.parse("workflows", v)?,
            None => RawWorkflows::default(),
        };
        let dir = match raw.dir {
            Some(d) => self.expand("workflows.dir", &d)?.value,
            None => "workflows".to_owned(),
        };
        Ok(self.relative_to_file(&dir))
    }

    pub(super) fn seconds(&self, at: &str, s: f64) -> Result<Duration, ConfigError> {
        if s.is_finite() && s > 0.0 && s <= 86_400.0 {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(self.invalid(
                at,
                format!("{s} is not a duration: use seconds, more than 0 and at most 86400"),
            ))
        }
    }
}

pub(super) fn is_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('=') && !name.contains('\0')
}
