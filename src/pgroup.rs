//! Process groups: signal one, tell whether any process of it is left, and make sure none is.
//! Shared by the supervisor, which stops its children's groups, and the reaper companion, which
//! kills them if the orchestrator itself is killed.

use std::time::Duration;

use nix::{sys::signal::Signal, unistd::Pid};

/// Makes sure no process is left in group `pgid` (after its leader has exited).
pub async fn reap_group(pgid: u32, grace: Duration) {
    if !group_alive(pgid) {
        return;
    }
    signal_group(pgid, Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    while group_alive(pgid) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if group_alive(pgid) {
        signal_group(pgid, Signal::SIGKILL);
    }
}

/// Signals every process in group `pgid`; a group that is already gone is fine.
pub fn signal_group(pgid: u32, signal: Signal) {
    if let Ok(pgid) = i32::try_from(pgid) {
        let _ = nix::sys::signal::killpg(Pid::from_raw(pgid), signal);
    }
}

/// Whether any live (non-zombie) process is in group `pgid`.
pub fn group_alive(pgid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        // kill(0) also succeeds for zombies, which init may be slow to reap in a container;
        // /proc tells them apart.
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return false;
        };
        dir.filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .any(|stat| stat_in_group_and_alive(&stat, pgid))
    }
    #[cfg(not(target_os = "linux"))]
    {
        i32::try_from(pgid)
            .map(|p| nix::sys::signal::killpg(Pid::from_raw(p), None).is_ok())
            .unwrap_or(false)
    }
}

/// Parses `/proc/PID/stat`: `pid (comm) state ppid pgrp …`; comm may contain spaces and `)`.
fn stat_in_group_and_alive(stat: &str, pgid: u32) -> bool {
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return false;
    };
    let mut fields = after.split_whitespace();
    let state = fields.next();
    let _ppid = fields.next();
    let pgrp = fields.next().and_then(|p| p.parse::<u32>().ok());
    pgrp == Some(pgid) && !matches!(state, Some("Z" | "X"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_handles_odd_names() {
        assert!(stat_in_group_and_alive("123 (a b) c) S 1 77 77 0", 77));
        assert!(!stat_in_group_and_alive("123 (x) Z 1 77 77 0", 77));
        assert!(!stat_in_group_and_alive("123 (x) S 1 78 78 0", 77));
    }
}
