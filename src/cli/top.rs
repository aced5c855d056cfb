//! `top`: the running instance's status as a live table in the terminal (ratatui), refreshed
//! every `--interval` seconds: servers with state, calls, errors, latency, CPU, memory and
//! circuits; alerts; the orchestrator's own use; jobs and runs. `q`, Esc or Ctrl-C quits.

use std::{path::Path, process::ExitCode, time::Duration};

use ratatui::{
    Frame,
    crossterm::event::{self, Event, KeyCode, KeyModifiers},
    layout::{Constraint, Layout},
    style::{Color, Modifier, Style},
    text::Line,
    widgets::{Block, Paragraph, Row, Table},
};

use super::remote;
use crate::{
    report::{ServerState, StatusReport},
    tools::own::STATUS,
};

/// `top` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds between refreshes.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
}

/// Runs until the user quits.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let remote = remote::require(path, "top").await?;
    let interval = Duration::from_secs_f64(args.interval.clamp(0.1, 60.0));
    let mut terminal = ratatui::init();
    let outcome = async {
        loop {
            let report: StatusReport = serde_json::from_value(remote.structured(STATUS).await?)?;
            terminal.draw(|f| draw(f, &report, path))?;
            if quit_within(interval)? {
                return anyhow::Ok(());
            }
        }
    }
    .await;
    ratatui::restore();
    remote.close().await;
    outcome.map(|()| ExitCode::SUCCESS)
}

/// Waits up to `limit` for a quitting key.
fn quit_within(limit: Duration) -> std::io::Result<bool> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || !event::poll(left)? {
            return Ok(false);
        }
        if let Event::Key(k) = event::read()? {
            let ctrl_c =
                k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
            if matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) || ctrl_c {
                return Ok(true);
            }
        }
    }
}

fn state_style(state: ServerState) -> Style {
    match state {
        ServerState::Running => Style::default().fg(Color::Green),
        ServerState::Starting | ServerState::Restarting | ServerState::Unhealthy => {
            Style::default().fg(Color::Yellow)
        }
        ServerState::Disabled | ServerState::Stopped => Style::default().fg(Color::DarkGray),
        _ => Style::default().fg(Color::Red),
    }
}

fn draw(f: &mut Frame, r: &StatusReport, path: &Path) {
    let servers = r.servers.len() as u16;
    let [head, table, rest] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(servers + 3),
        Constraint::Min(0),
    ])
    .areas(f.area());
    f.render_widget(
        Paragraph::new(format!(
            "mcp-orchestrator top  {}  (q quits)",
            path.display()
        ))
        .style(Style::default().add_modifier(Modifier::BOLD)),
        head,
    );
    let header = Row::new([
        "SERVER",
        "STATE",
        "PID",
        "RESTARTS",
        "TOOLS",
        "CALLS",
        "ERRORS",
        "P50 ms",
        "P99 ms",
        "CPU%",
        "RSS MiB",
        "IN FLIGHT",
        "CIRCUIT",
    ])
    .style(Style::default().add_modifier(Modifier::BOLD));
    let rows = r.servers.iter().map(|(id, s)| {
        let ms = |f: fn(&crate::report::Percentiles) -> u64| {
            s.metrics
                .latency_us
                .as_ref()
                .map_or("-".into(), |p| format!("{:.1}", f(p) as f64 / 1000.0))
        };
        let usage = |f: fn(&crate::report::ResourceSample) -> String| {
            s.usage.as_ref().map_or("-".into(), f)
        };
        Row::new(vec![
            id.clone(),
            s.state.as_str().to_owned(),
            s.pid.map_or("-".into(), |p| p.to_string()),
            s.restarts.to_string(),
            s.tools.len().to_string(),
            s.metrics.calls.to_string(),
            s.metrics.errors.to_string(),
            ms(|p| p.p50),
            ms(|p| p.p99),
            usage(|u| format!("{:.1}", u.cpu_percent)),
            usage(|u| format!("{:.1}", u.rss_bytes as f64 / 1_048_576.0)),
            s.in_flight.to_string(),
            s.circuit
                .map_or("-".into(), |c| format!("{c:?}").to_lowercase()),
        ])
        .style(state_style(s.state))
    });
    let widths = [
        Constraint::Min(10),
        Constraint::Length(13),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(9),
    ];
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(Block::bordered().title("servers")),
        table,
    );
    let mut lines: Vec<Line> = Vec::new();
    if let Some(u) = &r.orchestrator {
        lines.push(Line::from(format!(
            "orchestrator: cpu {:.1}%  rss {:.1} MiB  {} threads  {} fds",
            u.cpu_percent,
            u.rss_bytes as f64 / 1_048_576.0,
            u.threads,
            u.open_fds
        )));
    }
    if r.alerts.is_empty() {
        lines.push(Line::from("alerts: none"));
    }
    for a in &r.alerts {
        lines.push(
            Line::from(format!(
                "alert {} ({} of {}): {}, value {} (threshold {})",
                a.rule, a.metric, a.subject, a.state, a.value, a.threshold
            ))
            .style(Style::default().fg(if a.state == "firing" {
                Color::Red
            } else {
                Color::Yellow
            })),
        );
    }
    if let Some(j) = &r.jobs {
        let totals: Vec<String> = j.totals.iter().map(|(s, n)| format!("{s} {n}")).collect();
        lines.push(Line::from(format!(
            "jobs: {}; running here {}; artifacts {}",
            if totals.is_empty() {
                "none".into()
            } else {
                totals.join(", ")
            },
            j.running_here,
            j.artifacts
        )));
    }
    if let Some(w) = &r.workflows {
        let totals: Vec<String> = w.totals.iter().map(|(s, n)| format!("{s} {n}")).collect();
        lines.push(Line::from(format!(
            "workflow runs: {}; active {}",
            if totals.is_empty() {
                "none".into()
            } else {
                totals.join(", ")
            },
            w.active_runs
        )));
    }
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title("orchestrator")),
        rest,
    );
}
