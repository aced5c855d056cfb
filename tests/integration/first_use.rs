//! What a new user meets first: a host's first list is complete although children are still
//! starting, a server whose program is missing says how to get it, and one-shot commands print
//! what matters without the internal `serve`'s log.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn the_first_list_waits_for_a_child_that_takes_seconds_to_start() {
    let cfg = write_config(&json!({
        "servers": {"quick": fixture(&[]), "slow": fixture(&["--slow-start", "2500"])},
        "orchestrator": fast_settings(),
    }));
    let started = Instant::now();
    let host = Host::start(&cfg.path).await;
    // As a host that lists once does it: initialize, then tools/list at once.
    let names = host.tool_names().await;
    assert!(names.contains(&"slow__echo".to_owned()), "{names:?}");
    assert!(names.contains(&"quick__echo".to_owned()), "{names:?}");
    assert!(started.elapsed() >= Duration::from_millis(2000));
    // Prompts and resources of the same session answer at once now.
    let t = Instant::now();
    host.client.list_all_prompts().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    host.close().await;
}

#[tokio::test]
async fn the_first_list_wait_is_bounded_and_later_children_are_announced() {
    let mut settings = fast_settings();
    settings["first_list_wait"] = json!(0.5);
    let cfg = write_config(&json!({
        "servers": {"quick": fixture(&[]), "slow": fixture(&["--slow-start", "3000"])},
        "orchestrator": settings,
    }));
    let host = Host::start(&cfg.path).await;
    let t = Instant::now();
    let names = host.tool_names().await;
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t.elapsed()
    );
    assert!(!names.contains(&"slow__echo".to_owned()), "{names:?}");
    let status = host
        .wait_status(Duration::from_secs(10), |s| {
            state_of(s, "slow") == "running"
        })
        .await;
    assert_eq!(state_of(&status, "slow"), "running");
    assert!(host.settled_list_changed().await >= 1);
    assert!(host.tool_names().await.contains(&"slow__echo".to_owned()));
    host.close().await;
}

#[tokio::test]
async fn a_missing_program_is_not_installed_with_how_to_get_it_and_not_retried() {
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[]), "ghost": {"command": "mcp-no-such-server-here"}},
        "orchestrator": fast_settings(),
    }));
    let (code, out, err) = cli(&cfg.path, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(state_of(&v, "ghost"), "not_installed");
    assert_eq!(v["servers"]["ghost"]["restarts"], 0);
    let why = v["servers"]["ghost"]["last_error"].as_str().unwrap();
    assert!(
        why.contains("mcp-no-such-server-here") && why.contains("PATH"),
        "{why}"
    );
    assert_eq!(state_of(&v, "fx"), "running");
    let (_, table, _) = cli(&cfg.path, &["status"]);
    assert!(table.contains("not_installed"), "{table}");
}

#[test]
fn one_shot_commands_log_at_warn_and_name_each_failing_vendor_once() {
    let cfg = write_config(&json!({
        "servers": {
            "a": fixture(&["--vendor", "a", "--mode", "unavailable"]),
            "b": fixture(&["--vendor", "b", "--mode", "auth"]),
        },
        "routing": {"get_weather": ["a", "b"]},
        "orchestrator": {"retry_attempts": 3, "shutdown_grace": 1},
    }));
    let (code, out, err) = cli(&cfg.path, &["weather", "Paris"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        !err.contains(" INFO "),
        "internal serve logged at info:\n{err}"
    );
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        err.contains("a (3 attempts): a unavailable (HTTP 503)"),
        "{err}"
    );
    assert_eq!(err.matches("a unavailable").count(), 1, "{err}");
    assert!(err.contains("b: b rejected the API key"), "{err}");
}

#[tokio::test]
async fn a_server_installed_after_start_runs_after_a_restart_or_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let late = dir.path().join("mcp-late-server");
    let cfg = write_config(&json!({
        "servers": {
            "late": {"command": late},
            "later": {"command": dir.path().join("mcp-later-server")},
        },
        "orchestrator": fast_settings(),
    }));
    let host = Host::start(&cfg.path).await;
    let s = host
        .wait_status(Duration::from_secs(5), |s| {
            state_of(s, "late") == "not_installed" && state_of(s, "later") == "not_installed"
        })
        .await;
    assert_eq!(state_of(&s, "late"), "not_installed");

    // Installed now: a restart looks for it again.
    std::fs::copy(fixture_bin(), &late).unwrap();
    let (code, out, err) = cli(&cfg.path, &["restart", "late"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("late: running"), "{out}");

    // And so does a reload, even of an unchanged config.
    std::fs::copy(fixture_bin(), dir.path().join("mcp-later-server")).unwrap();
    let (code, _, err) = cli(&cfg.path, &["reload"]);
    assert_eq!(code, 0, "{err}");
    let s = host
        .wait_status(Duration::from_secs(10), |s| {
            state_of(s, "later") == "running"
        })
        .await;
    assert_eq!(state_of(&s, "later"), "running");
    assert!(host.tool_names().await.contains(&"later__echo".to_owned()));
    host.close().await;
}
