//! Loading `mcp_servers.json`: lookup, parsing, `${VAR}` expansion, validation.
//!
//! Two phases, as the contract asks: `raw` is pure serde with every unknown key an error, and
//! `validate` turns it into a [`Config`], naming the file and key of any problem.
//! `mcp-orchestrator check` runs exactly [`load`]; the watch that drives hot reload is here too.

pub mod discovery;
mod expand;
pub mod found;
mod raw;
mod types;
mod validate;
pub(crate) mod watch;

use std::path::{Path, PathBuf};

pub use types::{
    Adapter, AlertMetric, AlertRule, BreakerConfig, Config, JobTarget, JobType, JobsConfig, Launch,
    PinPolicy, ProtocolChoice, Remote, ResourceLimits, ServerSpec, Settings, Transport,
    UnifiedTool,
};
pub use validate::Lookup;

/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "MCP_ORCHESTRATOR_CONFIG";

/// Why a config could not be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No file at any of the lookup locations.
    #[error("no config file found; looked for {}. Pass --config PATH or set {CONFIG_ENV}", list(.tried))]
    NotFound {
        /// The candidates, in order.
        tried: Vec<PathBuf>,
    },
    /// The file exists but cannot be read.
    #[error("{}: cannot read: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not JSON.
    #[error("{}: invalid JSON at line {line}, column {column}: {message}", .path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// JSON, but not a valid config.
    #[error("{}: {at}: {message}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where in it, e.g. `servers.openai.command`.
        at: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where the config is, following the contract's order: `--config`, `$MCP_ORCHESTRATOR_CONFIG`,
/// `./config/mcp_servers.json`, then the user config dir.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let mut tried = vec![PathBuf::from("config/mcp_servers.json")];
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(dir) = config_home {
        tried.push(dir.join("mcp-orchestrator").join("mcp_servers.json"));
    }
    tried
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or(ConfigError::NotFound { tried })
}

/// Reads and validates the file at `path` against the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text, &|name| std::env::var(name).ok())
}

/// Parses and validates config text; `env` supplies variables for expansion and `required_env`.
pub fn parse(path: &Path, text: &str, env: validate::Lookup<'_>) -> Result<Config, ConfigError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    if !value.is_object() {
        return Err(ConfigError::Invalid {
            path: path.to_owned(),
            at: "top level".into(),
            message: "the config must be a JSON object with `servers` and/or `mcpServers`".into(),
        });
    }
    let raw: raw::RawFile = serde_json::from_value(value).map_err(|e| ConfigError::Invalid {
        path: path.to_owned(),
        at: "top level".into(),
        message: e.to_string(),
    })?;
    validate::validate(path.to_owned(), raw, env)
}

#[cfg(test)]
mod tests;
