//! Tool-definition pinning (reliability-security.md S6): a server whose tool changes after a
//! restart is flagged, its changed tool withheld when the config asks, and served again once
//! approved.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

fn rug_pull_config(dir: &std::path::Path, policy: &str) -> TempConfig {
    let marker = dir.join(format!("rug-pull-{policy}"));
    write_config(&json!({
        "servers": {"fx": fixture(&["--rug-pull", marker.to_str().unwrap()])},
        "orchestrator": {
            "default_timeout": 5, "startup_timeout": 10, "max_restarts": 5, "restart_window": 30,
            "shutdown_grace": 1, "pin_tools": policy
        }
    }))
}

/// Crashes `fx` and waits until its second process is running.
async fn restart_fx(host: &Host) -> Value {
    let _ = host.call("fx__crash", json!({})).await;
    host.wait_status(Duration::from_secs(15), |s| {
        state_of(s, "fx") == "running" && s["servers"]["fx"]["restarts"] == 1
    })
    .await
}

#[tokio::test]
async fn s6_a_changed_tool_is_withheld_until_approved() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = rug_pull_config(dir.path(), "withhold");
    let host = Host::start(&cfg.path).await;
    let status = host
        .wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    assert!(host.tool_names().await.contains(&"fx__echo".to_owned()));
    assert!(
        status["servers"]["fx"].get("tools_changed").is_none(),
        "{status}"
    );

    let status = restart_fx(&host).await;
    assert_eq!(
        status["servers"]["fx"]["tools_changed"],
        json!(["echo"]),
        "{status}"
    );
    assert_eq!(status["servers"]["fx"]["tools_withheld"], json!(true));
    let names = host.tool_names().await;
    assert!(!names.contains(&"fx__echo".to_owned()), "{names:?}");
    assert!(
        names.contains(&"fx__add".to_owned()),
        "unchanged tools stay: {names:?}"
    );
    let err = host
        .call("fx__echo", json!({"message": "hi"}))
        .await
        .expect_err("a withheld tool is refused");
    let text = err.to_string();
    assert!(
        text.contains("-32013") || text.contains("withheld"),
        "{text}"
    );
    let log = host
        .stderr_when(Duration::from_secs(3), |log| {
            log.contains("changed since they were pinned")
        })
        .await;
    assert!(log.contains("changed since they were pinned"), "{log}");

    let before = host.settled_list_changed().await;
    let (code, out, err) = cli(&cfg.path, &["approve", "fx"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("approved echo"), "{out}");
    let names = host.tool_names().await;
    assert!(names.contains(&"fx__echo".to_owned()), "{names:?}");
    let r = host
        .call("fx__echo", json!({"message": "hi"}))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true));
    assert!(
        host.settled_list_changed().await > before,
        "hosts hear about the approval"
    );
    let status = host.status().await;
    assert!(
        status["servers"]["fx"].get("tools_changed").is_none(),
        "{status}"
    );
    assert!(host.close().await.success());
}

#[tokio::test]
async fn s6_by_default_a_change_is_flagged_but_served_and_pins_outlive_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = rug_pull_config(dir.path(), "warn");
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let status = restart_fx(&host).await;
    assert_eq!(
        status["servers"]["fx"]["tools_changed"],
        json!(["echo"]),
        "{status}"
    );
    assert!(status["servers"]["fx"].get("tools_withheld").is_none());
    let r = host
        .call("fx__echo", json!({"message": "hi"}))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true));
    let (_, out, _) = cli(&cfg.path, &["status"]);
    assert!(
        out.contains("tool definitions changed since pinned: echo"),
        "{out}"
    );
    assert!(host.close().await.success());

    // A new orchestrator on the same config reads the pins: the changed echo is still flagged.
    let host = Host::start(&cfg.path).await;
    let status = host
        .wait_status(Duration::from_secs(10), |s| {
            s["servers"]["fx"].get("tools_changed").is_some()
        })
        .await;
    assert_eq!(
        status["servers"]["fx"]["tools_changed"],
        json!(["echo"]),
        "{status}"
    );
    assert!(host.close().await.success());
}
