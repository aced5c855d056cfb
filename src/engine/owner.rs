//! Who holds a lease: `host/pid/start`, where `host` is the host name and the pid namespace
//! (`name@<inode of /proc/self/ns/pid>`). A holder in this host and pid namespace whose process is
//! gone has dead leases that may be taken at once; any other holder is waited out (its leases
//! expire), since its processes cannot be asked. The namespace matters: two containers given the
//! same host name see each other's pids as missing, and must not take each other's work.

use std::{
    collections::HashSet,
    sync::{LazyLock, Mutex},
};

use nix::{sys::signal::kill, unistd::Pid};

/// The holders alive in this process (an engine per test, or per embedded orchestrator): an id
/// with our pid that is not among them belongs to an earlier process whose pid was reused.
static LIVE: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Mutex::default);

/// This process as a lease holder.
pub struct Owner {
    id: String,
    host: String,
    pid: u32,
}

impl Owner {
    /// This process, started at `now_ms` (which tells it apart from an earlier process that had
    /// the same pid).
    pub fn this_process(now_ms: i64) -> Self {
        let host = this_host();
        let pid = std::process::id();
        let id = format!("{host}/{pid}/{now_ms}.{:08x}", fastrand::u32(..));
        LIVE.lock().expect("poisoned").insert(id.clone());
        Self { id, host, pid }
    }

    /// The id written into leases.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The holders among `owners` that are certainly gone.
    pub fn dead_among(&self, owners: Vec<String>) -> Vec<String> {
        owners.into_iter().filter(|o| self.is_dead(o)).collect()
    }

    /// Whether `other` is a holder that is certainly gone.
    pub fn is_dead(&self, other: &str) -> bool {
        if other == self.id {
            return false;
        }
        let mut parts = other.rsplitn(3, '/');
        let (Some(_start), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            return false;
        };
        if host != self.host {
            return false;
        }
        if pid == self.pid {
            return !LIVE.lock().expect("poisoned").contains(other);
        }
        let Ok(raw) = i32::try_from(pid) else {
            return false;
        };
        matches!(
            kill(Pid::from_raw(raw), None),
            Err(nix::errno::Errno::ESRCH)
        )
    }
}

/// This host and pid namespace, as lease holder ids name them.
pub fn this_host() -> String {
    let name = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".into())
        .replace('/', "_");
    format!("{name}@{}", pid_namespace())
}

/// This process's pid namespace: the inode `/proc/self/ns/pid` links to. Where it cannot be
/// read, a random one, so that no other process is ever judged by our view of pids.
fn pid_namespace() -> String {
    static NAMESPACE: LazyLock<String> = LazyLock::new(read_pid_namespace);
    NAMESPACE.clone()
}

fn read_pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .map(|target| {
            target
                .to_string_lossy()
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
        })
        .filter(|inode| !inode.is_empty())
        .unwrap_or_else(|| format!("unknown-{:016x}", fastrand::u64(..)))
}

impl Drop for Owner {
    fn drop(&mut self) {
        LIVE.lock().expect("poisoned").remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_only_when_certain() {
        let me = Owner::this_process(1000);
        let sibling = Owner::this_process(1000);
        assert!(!me.is_dead(me.id()));
        assert!(
            !me.is_dead(sibling.id()),
            "another engine in this process is alive"
        );
        assert!(
            me.is_dead(&format!("{}/{}/999", me.host, me.pid)),
            "an earlier start with our pid is gone"
        );
        assert!(
            me.is_dead(&format!("{}/{}/5", me.host, i32::MAX - 7)),
            "no such pid on this host"
        );
        assert!(!me.is_dead(&format!("other-host/{}/5", i32::MAX - 7)));
        // Same host name, another pid namespace (a container named like us): not ours to judge.
        let name = me.host.split('@').next().unwrap();
        assert!(me.host.contains('@'), "{}", me.host);
        assert!(!me.is_dead(&format!("{name}@1/{}/5", i32::MAX - 7)));
        assert!(!me.is_dead(&format!("{name}/{}/5", i32::MAX - 7)));
        assert!(!me.is_dead("garbage"));
        // pid 1 exists (and is not ours).
        assert!(!me.is_dead(&format!("{}/1/5", me.host)));
    }
}
