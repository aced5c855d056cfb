//! Launching a child process and making sure it, and everything it started, goes away.
//!
//! Each child leads its own process group, so `npx`/`uvx` wrappers and whatever they spawn are
//! signalled together. The child also gets `PR_SET_PDEATHSIG` on Linux, so a SIGKILLed
//! orchestrator does not leave it running.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};

use nix::sys::signal::Signal;
use tokio::process::{Child, Command};

use crate::{
    config::{Launch, ServerSpec},
    pgroup::{reap_group, signal_group},
};

/// Variables every child gets from the orchestrator's environment, so that ordinary programs
/// (and `npx`, `uvx`) work; everything else must be declared.
pub const ENV_ALLOW_LIST: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TERM",
    "TMPDIR", "TZ",
];

/// The program to run for `command`: a bare name is looked up next to the orchestrator's own
/// executable first (so the vendor servers built or installed beside it are found without PATH
/// edits), then on PATH.
pub fn resolve_program(command: &str) -> Option<PathBuf> {
    let path = Path::new(command);
    if path.components().count() > 1 || path.is_absolute() {
        return is_executable(path).then(|| path.to_owned());
    }
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(command)));
    if let Some(s) = sibling.filter(|s| is_executable(s)) {
        return Some(s);
    }
    let path_var = std::env::var_os("PATH")?;
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(command))
        .find(|p| is_executable(p))
}

/// What to tell a user whose `command` was not found: for the project's own servers, the one
/// command that builds them next to this executable; for anything else, where it was looked for.
pub fn not_found_hint(command: &str) -> String {
    let own = match command {
        "mcp-vendor" => Some(("mcp-vendors", "servers/vendors")),
        "mcp-local-llama" => Some(("mcp-local-llama", "servers/local-llama")),
        _ => None,
    };
    let exe = std::env::current_exe().ok();
    let profile_dir = exe.as_deref().and_then(Path::parent);
    let in_target = profile_dir
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .is_some_and(|n| n == "target");
    match (own, profile_dir.and_then(Path::file_name)) {
        (Some((package, _)), Some(profile)) if in_target => {
            let release = if profile == "release" {
                " --release"
            } else {
                ""
            };
            format!(
                "`{command}` is not built yet; build it with: cargo build{release} -p {package}"
            )
        }
        (Some((_, dir)), _) => format!(
            "`{command}` is not installed next to mcp-orchestrator or on PATH; install it with: cargo install --path {dir}"
        ),
        (None, _) => format!(
            "`{command}` was not found next to mcp-orchestrator or on PATH; install it or give its full path in the config"
        ),
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The environment a child gets: the allow-list (or everything, with `inherit_env`), then its
/// `required_env` values, then its own `env`.
pub fn child_env(spec: &ServerSpec, launch: &Launch) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = if launch.inherit_env {
        std::env::vars_os().collect()
    } else {
        ENV_ALLOW_LIST
            .iter()
            .filter_map(|k| std::env::var_os(k).map(|v| (OsString::from(k), v)))
            .collect()
    };
    for (k, v) in spec.required_values.iter().chain(launch.env.iter()) {
        env.retain(|(existing, _)| existing != k.as_str());
        env.push((k.into(), v.expose().into()));
    }
    env
}

/// A launched child with its pipes.
pub struct Launched {
    pub child: Child,
    /// Its pid, which is also its process group id.
    pub pgid: u32,
}

/// Spawns the child in its own process group with piped stdio.
pub fn spawn(spec: &ServerSpec, launch: &Launch) -> std::io::Result<Launched> {
    let program = resolve_program(&launch.command).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "command `{}` not found (looked next to mcp-orchestrator and on PATH)",
                launch.command
            ),
        )
    })?;
    let mut cmd = Command::new(program);
    cmd.args(&launch.args)
        .env_clear()
        .envs(child_env(spec, launch))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // Backstop only: the supervisor stops children explicitly and waits for them.
        .kill_on_drop(true);
    if let Some(cwd) = &launch.cwd {
        cmd.current_dir(cwd);
    }
    die_with_parent(&mut cmd);
    let child = cmd.spawn()?;
    let pgid = child
        .id()
        .ok_or_else(|| std::io::Error::other("child exited before its pid was read"))?;
    Ok(Launched { child, pgid })
}

#[cfg(target_os = "linux")]
#[expect(
    unsafe_code,
    reason = "pre_exec is the only way to set PR_SET_PDEATHSIG in the child"
)]
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only calls prctl(2), which is
    // async-signal-safe; it allocates nothing and touches no locks.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// Stops a child whose stdin the caller has already closed: waits `grace` for it to exit, then
/// SIGTERMs its group, waits `grace` again, then SIGKILLs the group. Any process left in the group
/// (a grandchild that ignored its parent's exit) is then signalled the same way.
pub async fn terminate(child: &mut Child, pgid: u32, grace: Duration) -> Option<ExitStatus> {
    let mut status = tokio::time::timeout(grace, child.wait())
        .await
        .ok()
        .and_then(Result::ok);
    if status.is_none() {
        signal_group(pgid, Signal::SIGTERM);
        status = tokio::time::timeout(grace, child.wait())
            .await
            .ok()
            .and_then(Result::ok);
    }
    if status.is_none() {
        signal_group(pgid, Signal::SIGKILL);
        status = child.wait().await.ok();
    }
    reap_group(pgid, grace).await;
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgroup::group_alive;

    #[test]
    fn a_missing_program_gets_the_command_that_provides_it() {
        // Unit tests run from target/<profile>/deps, which is not a profile dir of its own.
        let llama = not_found_hint("mcp-local-llama");
        assert!(llama.contains("servers/local-llama"), "{llama}");
        assert!(not_found_hint("mcp-vendor").contains("servers/vendors"));
        let other = not_found_hint("uvx");
        assert!(other.contains("`uvx`") && other.contains("PATH"), "{other}");
    }

    #[test]
    fn resolves_absolute_and_path_programs() {
        assert_eq!(resolve_program("/bin/sh"), Some(PathBuf::from("/bin/sh")));
        assert!(resolve_program("sh").is_some());
        assert!(resolve_program("definitely-not-a-program-xyz").is_none());
    }

    #[tokio::test]
    async fn terminate_kills_a_group_that_ignores_stdin_and_sigterm() {
        let mut cmd = Command::new("sh");
        // The shell ignores TERM and so does its background child: only SIGKILL ends them.
        cmd.args(["-c", "trap '' TERM; sleep 30 & wait"])
            .stdin(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().unwrap();
        let pgid = child.id().unwrap();
        drop(child.stdin.take());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(group_alive(pgid));
        let started = std::time::Instant::now();
        terminate(&mut child, pgid, Duration::from_millis(200)).await;
        assert!(!group_alive(pgid), "group {pgid} survived");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
