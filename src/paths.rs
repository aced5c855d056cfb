//! Where a running instance keeps its files, all derived from the config path so that every
//! command on the same config finds the same ones: the control socket and the pin file.

use std::{
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
};

/// The socket for the config at `config`: `$XDG_RUNTIME_DIR/mcp-orchestrator/` (or
/// `/tmp/mcp-orchestrator-UID/`), named after the file and a hash of its absolute path.
pub fn socket_path(config: &Path) -> PathBuf {
    let absolute = std::fs::canonicalize(config)
        .or_else(|_| std::path::absolute(config))
        .unwrap_or_else(|_| config.to_owned());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    absolute.hash(&mut h);
    let stem = absolute
        .file_stem()
        .map(|s| crate::naming::sanitize(&s.to_string_lossy()))
        .unwrap_or_default();
    let stem: String = stem.chars().take(32).collect();
    runtime_dir().join(format!("{stem}-{:016x}.sock", h.finish()))
}

fn runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("mcp-orchestrator"),
        None => std::env::temp_dir().join(format!("mcp-orchestrator-{}", nix::unistd::getuid())),
    }
}

/// The default pin file for a config: `$XDG_STATE_HOME/mcp-orchestrator/`, else
/// `~/.local/state/mcp-orchestrator/`, named like the control socket.
pub fn pin_file(config: &Path) -> Option<PathBuf> {
    state_file(config, "pins.json")
}

/// The default store for a config: an SQLite file beside the pin file (or in the temp dir when
/// there is no home), named like the control socket.
pub fn store_url(config: &Path) -> String {
    format!("sqlite://{}", state_or_runtime(config, "db").display())
}

/// The default directory of artifact content for a config: beside the store, named like it.
pub fn artifacts_dir(config: &Path) -> PathBuf {
    state_or_runtime(config, "artifacts")
}

/// A state file of the config's, or the same name in the runtime dir when there is no home.
fn state_or_runtime(config: &Path, suffix: &str) -> PathBuf {
    state_file(config, suffix).unwrap_or_else(|| {
        let stem = socket_path(config)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        runtime_dir().join(format!("{stem}.{suffix}"))
    })
}

fn state_file(config: &Path, suffix: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    let socket = socket_path(config);
    let stem = socket.file_stem()?.to_string_lossy().into_owned();
    Some(
        base.join("mcp-orchestrator")
            .join(format!("{stem}.{suffix}")),
    )
}
