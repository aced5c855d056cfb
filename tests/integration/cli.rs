//! The one-shot commands: check, status, capabilities, call.

use std::process::Command;

use serde_json::{Value, json};

use crate::common::*;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(orchestrator_bin())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_accepts_a_good_config_and_names_key_and_file_otherwise() {
    let good = write_config(&json!({"servers": {"fx": fixture(&[])}}));
    let (code, out, _) = run(&["--config", good.path.to_str().unwrap(), "check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok"));

    let bad = write_config(&json!({"servers": {"fx": {"comand": "x"}}}));
    let (code, _, err) = run(&["--config", bad.path.to_str().unwrap(), "check"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("mcp_servers.json") && err.contains("servers.fx") && err.contains("comand"),
        "{err}"
    );

    let env = write_config(
        &json!({"servers": {"k": {"command": "definitely-missing-cmd", "required_env": ["MCP_TEST_UNSET_KEY_Z"]}}}),
    );
    let (code, _, err) = run(&["--config", env.path.to_str().unwrap(), "check"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("MCP_TEST_UNSET_KEY_Z") && err.contains("definitely-missing-cmd"),
        "{err}"
    );

    let (code, _, err) = run(&["--config", "/nonexistent/mcp_servers.json", "check"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/mcp_servers.json"), "{err}");
}

#[test]
fn status_json_has_the_contract_shape_and_leaves_nothing_running() {
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&["--grandchild"]), "nokey": {"command": "x", "required_env": ["MCP_TEST_UNSET_KEY_Y"], "tools": ["chat"]}},
        "orchestrator": fast_settings()
    }));
    let (code, out, err) = run(&["--config", cfg.path.to_str().unwrap(), "status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let fx = &v["servers"]["fx"];
    assert_eq!(fx["state"], "running");
    let pid = fx["pid"].as_u64().unwrap() as u32;
    assert_eq!(fx["restarts"], 0);
    assert!(fx["tools"].as_array().unwrap().contains(&json!("echo")));
    assert!(fx["last_error"].is_null());
    assert!(fx["uptime_s"].is_number());
    assert_eq!(v["servers"]["nokey"]["state"], "missing_env");
    assert_eq!(
        v["servers"]["nokey"]["missing_env"],
        json!(["MCP_TEST_UNSET_KEY_Y"])
    );
    assert_eq!(v["routing"]["chat"], json!(["nokey"]));
    assert!(!group_alive(pid), "status stopped what it started");

    let (code, out, _) = run(&["--config", cfg.path.to_str().unwrap(), "status"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("fx") && out.contains("running") && out.contains("MCP_TEST_UNSET_KEY_Y"),
        "{out}"
    );
}

#[test]
fn capabilities_and_call() {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let p = cfg.path.to_str().unwrap();
    let (code, out, err) = run(&["--config", p, "capabilities", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = v["servers"]["fx"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"fx__echo"), "{names:?}");
    // The fixture is dual-era: `protocol: auto` speaks 2026-07-28 to it.
    assert_eq!(v["servers"]["fx"]["era"], "modern", "{v}");
    let (code, out, err) = run(&["--config", p, "capabilities"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("fx (running, modern"), "{out}");
    assert_eq!(
        v["orchestrator"],
        json!(["orchestrator_status", "orchestrator_capabilities"])
    );

    let (code, out, err) = run(&[
        "--config",
        p,
        "call",
        "fx__echo",
        "--args",
        r#"{"message":"from cli"}"#,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "echo: from cli");
    let (code, _, _) = run(&[
        "--config",
        p,
        "call",
        "fx__fail",
        "--args",
        r#"{"message":"x"}"#,
    ]);
    assert_eq!(code, 1, "a tool error is a failed call");
    let (code, _, err) = run(&["--config", p, "call", "fx__echo", "--args", "not json"]);
    assert_eq!(code, 2, "{err}");
}
