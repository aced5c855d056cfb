//! Remote servers in the config (`{"type": "http", "url", "headers"}`): reached over streamable
//! HTTP, health-checked, and reconnected with backoff when they go away. The remote here is a
//! second orchestrator serving HTTP with a bearer token.

use std::{process::Stdio, time::Duration};

use serde_json::json;

use crate::common::*;

const TOKEN: &str = "remote-token-7d2c9e41";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_remote(cfg: &TempConfig, port: u16) -> tokio::process::Child {
    tokio::process::Command::new(orchestrator_bin())
        .args([
            "--config",
            cfg.path.to_str().unwrap(),
            "serve",
            "--no-watch",
            "--http",
            &format!("127.0.0.1:{port}"),
        ])
        .env("XDG_RUNTIME_DIR", cfg.dir.path())
        .env("MCP_ORCHESTRATOR_HTTP_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn remote_servers_are_reached_with_headers_and_reconnected() {
    let port = free_port();
    let remote_cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let mut remote = start_remote(&remote_cfg, port);
    let mut settings = fast_settings();
    settings["max_restarts"] = json!(50);
    settings["health_check_interval"] = json!(0.5);
    let front = write_config(&json!({
        "mcpServers": {"far": {"type": "http", "url": format!("http://127.0.0.1:{port}/mcp"),
                               "headers": {"Authorization": "Bearer ${MCP_TEST_REMOTE_TOKEN}"}}},
        "orchestrator": settings
    }));
    let host =
        Host::start_with_env(&front.path, &[("MCP_TEST_REMOTE_TOKEN", TOKEN.to_owned())]).await;
    let s = host
        .wait_status(Duration::from_secs(15), |s| {
            state_of(s, "far") == "running"
                && s["servers"]["far"]["tools"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!("fx__echo")))
        })
        .await;
    assert_eq!(state_of(&s, "far"), "running", "{s}");
    assert!(
        s["servers"]["far"]["pid"].is_null(),
        "a remote server has no pid"
    );
    let r = host
        .call("far__fx__echo", json!({"message": "across"}))
        .await
        .unwrap();
    assert_eq!(r.content[0].as_text().unwrap().text, "echo: across");

    // The remote goes away: the server leaves `running`; when it is back, so is the connection.
    remote.kill().await.unwrap();
    let s = host
        .wait_status(Duration::from_secs(10), |s| state_of(s, "far") != "running")
        .await;
    let down_state = state_of(&s, "far");
    assert!(
        ["unhealthy", "restarting", "starting"].contains(&down_state.as_str()),
        "{s}"
    );
    let mut remote = start_remote(&remote_cfg, port);
    let s = host
        .wait_status(Duration::from_secs(20), |s| {
            state_of(s, "far") == "running"
                && s["servers"]["far"]["tools"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!("fx__echo")))
        })
        .await;
    assert_eq!(state_of(&s, "far"), "running", "{s}");
    // Whether it came back by a supervisor restart (after missed pings) or by rmcp re-opening
    // the expired HTTP session, the same call works again.
    let r = host
        .call("far__fx__echo", json!({"message": "again"}))
        .await
        .unwrap();
    assert_eq!(r.content[0].as_text().unwrap().text, "echo: again");
    assert!(
        !host.stderr().contains(TOKEN),
        "the token never reaches the log"
    );
    host.close().await;
    remote.kill().await.unwrap();
}

#[tokio::test]
async fn a_wrong_token_is_a_clear_failure_without_the_token() {
    let port = free_port();
    let remote_cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let mut remote = start_remote(&remote_cfg, port);
    let front = write_config(&json!({
        "mcpServers": {"far": {"url": format!("http://127.0.0.1:{port}/mcp"), "headers": {"Authorization": "Bearer wrong-token-123"}}},
        "orchestrator": {"max_restarts": 1, "restart_window": 60, "shutdown_grace": 1, "startup_timeout": 5}
    }));
    let host = Host::start(&front.path).await;
    let s = host
        .wait_status(Duration::from_secs(20), |s| state_of(s, "far") == "failed")
        .await;
    assert_eq!(state_of(&s, "far"), "failed", "{s}");
    let err = s["servers"]["far"]["last_error"].as_str().unwrap();
    assert!(err.contains("cannot connect"), "{err}");
    assert!(!s.to_string().contains("wrong-token-123"));
    host.close().await;
    remote.kill().await.unwrap();
}
