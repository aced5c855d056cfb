//! Watching the config file for edits.
//!
//! Editors save by writing a temporary file and renaming it over the original, which replaces the
//! inode a file watch would follow; so the watch is on the parent directory, filtered to the file's
//! name. Events are debounced: one save is several events, and several quick saves should be one
//! reload.

use std::{path::PathBuf, time::Duration};

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Quiet time after the last event before a reload.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// A running watch; dropping it stops watching.
pub struct ConfigWatch {
    _watcher: notify::RecommendedWatcher,
    changes: mpsc::UnboundedReceiver<()>,
}

impl ConfigWatch {
    /// Starts watching `path`'s directory for changes to `path`.
    pub fn new(path: &std::path::Path) -> notify::Result<Self> {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let dir = path
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let name = path.file_name().map(|n| n.to_owned());
        Self::watch(dir, move |p| p.file_name() == name.as_deref())
    }

    /// Starts watching the workflow files (`*.yaml`, `*.yml`, `*.json`) in `dir`.
    pub fn directory(dir: &std::path::Path) -> notify::Result<Self> {
        Self::watch(dir.to_owned(), |p| {
            p.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
    }

    fn watch(
        dir: PathBuf,
        relevant: impl Fn(&std::path::Path) -> bool + Send + 'static,
    ) -> notify::Result<Self> {
        let (tx, changes) = mpsc::unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if event.kind.is_access() {
                    return;
                }
                if event.paths.iter().any(|p| relevant(p)) {
                    let _ = tx.send(());
                }
            })?;
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        Ok(Self {
            _watcher: watcher,
            changes,
        })
    }

    /// Waits for the next change, then for [`DEBOUNCE`] of quiet. `None` once the watch is gone.
    pub async fn next(&mut self) -> Option<()> {
        self.changes.recv().await?;
        loop {
            match tokio::time::timeout(DEBOUNCE, self.changes.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return None,
                Err(_) => return Some(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_of_writes_and_a_rename_is_one_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp_servers.json");
        std::fs::write(&path, "{}").unwrap();
        let mut watch = ConfigWatch::new(&path).unwrap();
        for i in 0..5 {
            std::fs::write(&path, format!("{{\"n\": {i}}}")).unwrap();
        }
        let tmp = dir.path().join(".mcp_servers.json.swp");
        std::fs::write(&tmp, "{}").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert!(
            tokio::time::timeout(Duration::from_secs(5), watch.next())
                .await
                .unwrap()
                .is_some()
        );
        // Nothing more is pending: the burst was one change.
        assert!(
            tokio::time::timeout(DEBOUNCE * 3, watch.next())
                .await
                .is_err()
        );
        // Another file in the same directory is not a change.
        std::fs::write(dir.path().join("other.json"), "{}").unwrap();
        assert!(
            tokio::time::timeout(DEBOUNCE * 3, watch.next())
                .await
                .is_err()
        );
    }
}
