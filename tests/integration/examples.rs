//! The SDK's examples run as documented.

use std::process::Command;

use serde_json::json;

use crate::common::*;

#[test]
fn the_status_example_runs_against_a_config() {
    // `cargo test` builds the examples next to the test binaries' target dir.
    let example = orchestrator_bin().parent().unwrap().join("examples/status");
    assert!(example.exists(), "{} not built", example.display());
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[]), "nokey": {"command": "x", "required_env": ["MCP_TEST_UNSET_KEY_EX"]}},
        "orchestrator": fast_settings()
    }));
    let out = Command::new(example)
        .arg(&cfg.path)
        .env("MCP_ORCHESTRATOR_BIN", orchestrator_bin())
        .env("XDG_RUNTIME_DIR", cfg.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("fx") && stdout.contains("running"),
        "{stdout}"
    );
    assert!(stdout.contains("missing MCP_TEST_UNSET_KEY_EX"), "{stdout}");
    assert!(stdout.contains("tools offered"), "{stdout}");
}
