//! A companion process that kills children's process groups if the orchestrator dies without
//! stopping them (SIGKILL, OOM killer, a panic in the runtime).
//!
//! `PR_SET_PDEATHSIG` only reaches a direct child; the grandchildren that `npx` and `uvx` start
//! would survive. So the orchestrator starts `mcp-orchestrator __reap` once, keeps a pipe to its
//! stdin, and writes `+PGID` / `-PGID` lines as groups come and go. When the pipe closes, for
//! whatever reason, the reaper signals every group still registered and exits. After a clean
//! shutdown it finds none.

use std::{
    collections::BTreeSet,
    io::{BufRead, Write},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{Mutex, OnceLock},
    time::Duration,
};

use nix::sys::signal::{SigHandler, Signal};

use crate::pgroup::{group_alive, signal_group};

/// The hidden subcommand that runs the reaper.
pub const SUBCOMMAND: &str = "__reap";

struct Link {
    stdin: ChildStdin,
    _child: Child,
}

fn link() -> &'static Mutex<Option<Link>> {
    static LINK: OnceLock<Mutex<Option<Link>>> = OnceLock::new();
    LINK.get_or_init(|| Mutex::new(start()))
}

fn start() -> Option<Link> {
    let exe = std::env::current_exe().ok()?;
    // Only the orchestrator binary has the subcommand; other hosts of this library (tests, the
    // SDK embedding it) go without a reaper rather than run a stranger's `__reap`.
    if exe.file_stem().and_then(|s| s.to_str()) != Some("mcp-orchestrator") {
        return None;
    }
    let spawned = Command::new(exe)
        .arg(SUBCOMMAND)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn();
    match spawned {
        Ok(mut child) => {
            let stdin = child.stdin.take()?;
            Some(Link {
                stdin,
                _child: child,
            })
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the reaper; children may outlive a killed orchestrator");
            None
        }
    }
}

fn send(line: String) {
    let mut guard = link().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(l) = guard.as_mut()
        && writeln!(l.stdin, "{line}")
            .and_then(|()| l.stdin.flush())
            .is_err()
    {
        tracing::warn!("the reaper is gone; children may outlive a killed orchestrator");
        *guard = None;
    }
}

/// Registers a process group to be killed if the orchestrator dies.
pub fn register(pgid: u32) {
    send(format!("+{pgid}"));
}

/// Forgets a process group that has been stopped.
pub fn unregister(pgid: u32) {
    send(format!("-{pgid}"));
}

/// The reaper's main loop: blocking, single-threaded, no runtime.
pub fn run() {
    // The terminal's Ctrl-C or a host's SIGTERM to the whole tree must not kill the reaper
    // before the orchestrator: it leaves when its stdin closes.
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        #[expect(
            unsafe_code,
            reason = "installing SIG_IGN has no handler code to be unsafe"
        )]
        // SAFETY: SIG_IGN runs no code in signal context.
        unsafe {
            let _ = nix::sys::signal::signal(sig, SigHandler::SigIgn);
        }
    }
    let mut groups = BTreeSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (op, pgid) = line.split_at(line.len().min(1));
        match (op, pgid.trim().parse::<u32>()) {
            ("+", Ok(p)) => {
                groups.insert(p);
            }
            ("-", Ok(p)) => {
                groups.remove(&p);
            }
            _ => {}
        }
    }
    if groups.is_empty() {
        return;
    }
    for &g in &groups {
        signal_group(g, Signal::SIGTERM);
    }
    for _ in 0..50 {
        if !groups.iter().any(|&g| group_alive(g)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for &g in &groups {
        signal_group(g, Signal::SIGKILL);
    }
}
