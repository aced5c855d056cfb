//! `check`: validate the config and the environment, exactly as `serve` would load them.

use std::{path::Path, process::ExitCode};

use super::{Failure, output};
use crate::supervisor::process::resolve_program;

/// Loads the config (the same path as `serve`), then checks each enabled server's environment
/// and command. Exit 0 when all is well, 2 with one line per problem otherwise.
pub fn execute(path: &Path) -> anyhow::Result<ExitCode> {
    let config = super::load(path)?;
    for w in &config.warnings {
        output::warn(w);
    }
    let mut problems = Vec::new();
    for s in config.servers.iter().filter(|s| !s.disabled) {
        let at = format!("{}: {}.{}", config.path.display(), s.section, s.id);
        if !s.missing_env.is_empty() {
            problems.push(format!(
                "{at}: environment variable{} {} not set; the server will not start (state missing_env)",
                if s.missing_env.len() == 1 { "" } else { "s" },
                s.missing_env.join(", ")
            ));
        }
        if let Some(launch) = s.launch()
            && resolve_program(&launch.command).is_none()
        {
            problems.push(format!(
                "{at}.command: `{}` not found next to mcp-orchestrator or on PATH",
                launch.command
            ));
        }
    }
    let workflows = crate::tools::workflows::load(&config, None);
    problems.extend(workflows.errors.iter().map(ToString::to_string));
    if problems.is_empty() {
        let enabled = config.servers.iter().filter(|s| !s.disabled).count();
        output::out(&format!(
            "{}: ok ({} servers, {enabled} enabled; {} workflows)",
            config.path.display(),
            config.servers.len(),
            workflows.definitions.len()
        ));
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Failure {
            code: 2,
            message: format!(
                "{} problem(s):\n  {}",
                problems.len(),
                problems.join("\n  ")
            ),
        }
        .into())
    }
}
