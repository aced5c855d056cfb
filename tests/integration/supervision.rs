//! Supervision: crashes, crash loops, hangs, missing env, the child's environment, shutdown.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn crash_restarts_the_child_and_its_tools_come_back() {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let host = Host::start(&cfg.path).await;
    let s = host
        .wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let first_pid = pid_of(&s, "fx").unwrap();
    let tools_before = host.tool_names().await;
    let changed_before = host.settled_list_changed().await;

    // The child dies mid-call: the call fails fast with an error naming the server.
    let started = Instant::now();
    let err = host.call("fx__crash", json!({})).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("fx"), "{err}");

    let s = host
        .wait_status(Duration::from_secs(10), |s| {
            state_of(s, "fx") == "running" && pid_of(s, "fx") != Some(first_pid)
        })
        .await;
    assert_eq!(state_of(&s, "fx"), "running", "{s}");
    assert_eq!(s["servers"]["fx"]["restarts"], 1);
    assert!(
        s["servers"]["fx"]["last_error"]
            .as_str()
            .unwrap()
            .contains("code 4"),
        "{s}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        host.tool_names().await,
        tools_before,
        "same tools after the restart"
    );
    let notes = host.settled_list_changed().await - changed_before;
    // The restarting child's last good catalogue stayed listed, and it came back the same:
    // nothing changed, so nothing is announced.
    assert_eq!(notes, 0, "{notes} list_changed");
    assert!(!group_alive(first_pid), "the crashed child's group is gone");
    host.close().await;
}

#[tokio::test]
async fn a_child_that_crashes_after_n_calls_is_restarted_and_serves_again() {
    let cfg = write_config(
        &json!({"servers": {"fx": fixture(&["--crash-after", "3"])}, "orchestrator": fast_settings()}),
    );
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    for i in 0..2 {
        let r = host
            .call("fx__echo", json!({"message": i.to_string()}))
            .await
            .unwrap();
        assert_eq!(r.content[0].as_text().unwrap().text, format!("echo: {i}"));
    }
    let err = host
        .call("fx__echo", json!({"message": "third"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("server `fx`"), "{err}");
    // The next call waits for the restart instead of failing.
    let r = host
        .call("fx__echo", json!({"message": "after"}))
        .await
        .unwrap();
    assert_eq!(r.content[0].as_text().unwrap().text, "echo: after");
    let s = host.status().await;
    assert_eq!(s["servers"]["fx"]["restarts"], 1);
    assert!(
        s["servers"]["fx"]["last_error"]
            .as_str()
            .unwrap()
            .contains("code 3"),
        "{s}"
    );
    host.close().await;
}

#[tokio::test]
async fn crash_loop_ends_in_failed_with_the_reason() {
    let cfg = write_config(&json!({
        "servers": {"bad": fixture(&["--exit-at-start", "9"]), "good": fixture(&[])},
        "orchestrator": {"max_restarts": 2, "restart_window": 60, "shutdown_grace": 1}
    }));
    let host = Host::start(&cfg.path).await;
    let s = host
        .wait_status(Duration::from_secs(15), |s| state_of(s, "bad") == "failed")
        .await;
    assert_eq!(state_of(&s, "bad"), "failed", "{s}");
    let err = s["servers"]["bad"]["last_error"].as_str().unwrap();
    assert!(err.contains("code 9"), "{err}");
    assert!(
        err.contains("exiting at start with code 9"),
        "stderr tail in last_error: {err}"
    );
    assert_eq!(s["servers"]["bad"]["pid"], serde_json::Value::Null);
    assert_eq!(
        state_of(&s, "good"),
        "running",
        "one bad child never stops the rest"
    );
    // Failed stays failed: no restarts while nothing changes (no CPU burnt).
    let restarts = s["servers"]["bad"]["restarts"].clone();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let s = host.status().await;
    assert_eq!(s["servers"]["bad"]["restarts"], restarts);
    assert_eq!(state_of(&s, "bad"), "failed");
    // Its tools are not listed, and a call says why.
    let err = host
        .call("bad__echo", json!({}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("server `bad` is failed"), "{err}");
    host.close().await;
}

#[tokio::test]
async fn hung_child_is_found_by_ping_and_restarted() {
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[])},
        "orchestrator": {"health_check_interval": 0.3, "health_check_timeout": 0.3,
                          "health_check_failures": 2, "default_timeout": 1, "shutdown_grace": 0.5}
    }));
    let host = Host::start(&cfg.path).await;
    let s = host
        .wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let pid = pid_of(&s, "fx").unwrap();
    // `freeze` blocks the child's only thread: the call times out and pings go unanswered.
    let started = Instant::now();
    let err = host
        .call("fx__freeze", json!({"ms": 60000}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "per-call timeout holds"
    );
    // Whichever comes first, the call's timeout or the restart, the error names the server.
    assert!(err.contains("server `fx`"), "{err}");
    let s = host
        .wait_status(Duration::from_secs(10), |s| {
            state_of(s, "fx") == "running" && pid_of(s, "fx").is_some_and(|p| p != pid)
        })
        .await;
    assert_ne!(pid_of(&s, "fx"), Some(pid), "restarted: {s}");
    assert!(
        s["servers"]["fx"]["last_error"]
            .as_str()
            .unwrap()
            .contains("health pings"),
        "{s}"
    );
    assert!(!group_alive(pid), "the hung process was killed");
    host.close().await;
}

#[tokio::test]
async fn missing_env_is_reported_and_the_rest_run() {
    let cfg = write_config(&json!({
        "servers": {
            "needs_key": {"command": fixture_bin(), "required_env": ["MCP_TEST_UNSET_KEY_A", "MCP_TEST_UNSET_KEY_B"]},
            "fx": fixture(&[])
        },
        "orchestrator": fast_settings()
    }));
    let host = Host::start(&cfg.path).await;
    let s = host
        .wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    assert_eq!(state_of(&s, "needs_key"), "missing_env");
    assert_eq!(
        s["servers"]["needs_key"]["missing_env"],
        json!(["MCP_TEST_UNSET_KEY_A", "MCP_TEST_UNSET_KEY_B"])
    );
    assert!(
        !host
            .tool_names()
            .await
            .iter()
            .any(|n| n.starts_with("needs_key__"))
    );
    host.close().await;
}

#[tokio::test]
async fn children_see_only_declared_variables_and_secrets_stay_out_of_output() {
    let canary = "sk-canary-7f3a9c1e5b";
    // SAFETY of the test: set_var affects only the processes this test spawns afterwards.
    let cfg = write_config(&json!({
        "servers": {"fx": {
            "command": fixture_bin(),
            "env": {"FIXTURE_API_KEY": canary, "FIXTURE_PLAIN": "visible"}
        }},
        "orchestrator": fast_settings()
    }));
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let r = host.call("fx__env_names", json!({})).await.unwrap();
    let names: Vec<String> =
        serde_json::from_value(r.structured_content.unwrap()["names"].clone()).unwrap();
    let allowed = [
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "LC_ALL",
        "LC_CTYPE",
        "TERM",
        "TMPDIR",
        "TZ",
        "FIXTURE_API_KEY",
        "FIXTURE_PLAIN",
    ];
    for n in &names {
        assert!(
            allowed.contains(&n.as_str()),
            "child got undeclared variable {n}"
        );
    }
    assert!(names.contains(&"FIXTURE_API_KEY".to_owned()));
    assert!(
        !names.contains(&"CARGO".to_owned()),
        "the test's own env does not leak"
    );
    // A child printing the secret to stderr: the orchestrator's log and status show *** instead.
    host.call(
        "fx__stderr",
        json!({"text": format!("oops, my key is {canary}")}),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = host.status().await.to_string();
    assert!(!status.contains(canary));
    let log = host.stderr();
    assert!(log.contains("oops, my key is ***"), "{log}");
    assert!(!log.contains(canary));
    host.close().await;
}

#[tokio::test]
async fn stdin_eof_stops_everything_including_grandchildren() {
    let cfg = write_config(&json!({
        "servers": {"a": fixture(&["--grandchild"]), "b": fixture(&["--grandchild"])},
        "orchestrator": fast_settings()
    }));
    let host = Host::start(&cfg.path).await;
    let s = host
        .wait_status(Duration::from_secs(10), |s| {
            state_of(s, "a") == "running" && state_of(s, "b") == "running"
        })
        .await;
    let groups = [pid_of(&s, "a").unwrap(), pid_of(&s, "b").unwrap()];
    for g in groups {
        assert!(group_alive(g));
    }
    let started = Instant::now();
    let status = host.close().await;
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    for g in groups {
        assert!(
            !group_alive(g),
            "process group {g} (child + `sleep` grandchild) survived"
        );
    }
}

#[tokio::test]
async fn progress_reaches_the_host_under_its_own_token() {
    use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest, Request};
    use rmcp::service::PeerRequestOptions;
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let mut args = serde_json::Map::new();
    args.insert("ms".into(), json!(200));
    args.insert("steps".into(), json!(4));
    let req: CallToolRequest =
        Request::new(CallToolRequestParams::new("fx__slow").with_arguments(args));
    let handle = host
        .client
        .send_request_with_option(
            ClientRequest::CallToolRequest(req),
            PeerRequestOptions::with_timeout(Duration::from_secs(10)),
        )
        .await
        .unwrap();
    let token = handle.progress_token.clone();
    handle.await_response().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let progress = host.recorder.recorded.lock().unwrap().progress.clone();
    assert_eq!(progress.len(), 4, "{progress:?}");
    assert!(progress.iter().all(|p| p.progress_token == token));
    assert_eq!(progress.last().unwrap().progress, 4.0);
    host.close().await;
}

#[tokio::test]
async fn host_cancellation_reaches_the_child() {
    use rmcp::model::{CallToolRequestParams, ClientRequest, Request};
    use rmcp::service::PeerRequestOptions;
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let handle = host
        .client
        .send_request_with_option(
            ClientRequest::CallToolRequest(Request::new(CallToolRequestParams::new("fx__hang"))),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle
        .cancel(Some("user pressed stop".into()))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !host.stderr().contains("hang was cancelled") {
        assert!(
            Instant::now() < deadline,
            "child never saw the cancellation:\n{}",
            host.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connection is still fine afterwards.
    let r = host
        .call("fx__echo", json!({"message": "after"}))
        .await
        .unwrap();
    assert_eq!(r.content[0].as_text().unwrap().text, "echo: after");
    host.close().await;
}

#[tokio::test]
async fn garbage_on_a_childs_stdout_does_not_break_it() {
    let cfg = write_config(
        &json!({"servers": {"fx": fixture(&["--garbage"])}, "orchestrator": fast_settings()}),
    );
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    for i in 0..5 {
        let r = host
            .call("fx__echo", json!({"message": i.to_string()}))
            .await
            .unwrap();
        assert_eq!(r.content[0].as_text().unwrap().text, format!("echo: {i}"));
    }
    host.close().await;
}

#[tokio::test]
async fn a_call_that_never_answers_times_out_and_the_child_stays_up() {
    let mut settings = fast_settings();
    settings["default_timeout"] = json!(1);
    let cfg = write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": settings}));
    let host = Host::start(&cfg.path).await;
    let s = host
        .wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let started = Instant::now();
    let err = host
        .call("fx__hang", json!({}))
        .await
        .unwrap_err()
        .to_string();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(
        err.contains("-32001") && err.contains("server `fx` did not answer tools/call within 1 s"),
        "{err}"
    );
    // The timeout cancelled the call in the child, which is otherwise fine.
    let r = host
        .call("fx__echo", json!({"message": "still here"}))
        .await
        .unwrap();
    assert_eq!(r.content[0].as_text().unwrap().text, "echo: still here");
    assert_eq!(pid_of(&host.status().await, "fx"), pid_of(&s, "fx"));
    host.close().await;
}

#[tokio::test]
async fn sigkill_of_the_orchestrator_leaves_no_process_behind() {
    let cfg = write_config(&json!({
        "servers": {"a": fixture(&["--grandchild"])},
        "orchestrator": fast_settings()
    }));
    let host = Host::start(&cfg.path).await;
    let s = host
        .wait_status(Duration::from_secs(10), |s| state_of(s, "a") == "running")
        .await;
    let group = pid_of(&s, "a").unwrap();
    assert!(group_alive(group));
    let pid = host.process.id().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while group_alive(group) {
        assert!(
            Instant::now() < deadline,
            "child group {group} outlived a SIGKILLed orchestrator"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn calls_over_max_in_flight_get_a_fast_overload_error() {
    let mut settings = fast_settings();
    settings["max_in_flight"] = json!(2);
    let cfg = write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": settings}));
    let host = std::sync::Arc::new(Host::start(&cfg.path).await);
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(
                async move { host.call("fx__slow", json!({"ms": 1500, "steps": 1})).await },
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let err = host
        .call("fx__echo", json!({"message": "x"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "refused at once, not queued"
    );
    assert!(
        err.contains("-32010") && err.contains("busy") && err.contains("max_in_flight"),
        "{err}"
    );
    for h in slow {
        assert!(
            h.await.unwrap().is_ok(),
            "the calls in flight finish normally"
        );
    }
    let r = host
        .call("fx__echo", json!({"message": "after"}))
        .await
        .unwrap();
    assert_eq!(
        r.content[0].as_text().unwrap().text,
        "echo: after",
        "slots come back"
    );
    std::sync::Arc::into_inner(host).unwrap().close().await;
}
