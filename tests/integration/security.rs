//! Security cases of reliability-security.md §5 not covered elsewhere: S3 (no shell) and S5
//! (poisoned descriptions). S1/S2 are in supervision.rs, S4 in aggregation.rs, S6 in pinning.rs.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn s3_shell_metacharacters_reach_the_child_literally() {
    let dir = tempfile::tempdir().unwrap();
    let pwned = dir.path().join("pwned");
    let tricky = [
        format!("; touch {}", pwned.display()),
        "$(id)".to_owned(),
        format!(
            "`touch {}` && echo hi | cat > {}",
            pwned.display(),
            pwned.display()
        ),
        "'quoted' \"double\" \\ $HOME *".to_owned(),
    ];
    let mut args = Vec::new();
    for t in &tricky {
        args.push("--arg");
        args.push(t.as_str());
    }
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&args)}, "orchestrator": fast_settings()}));
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let r = host.call("fx__argv", json!({})).await.unwrap();
    let argv: Vec<String> =
        serde_json::from_value(r.structured_content.unwrap()["argv"].clone()).unwrap();
    for t in &tricky {
        assert!(argv.contains(t), "{t:?} not passed literally: {argv:?}");
    }
    assert!(!pwned.exists(), "a shell ran");
    assert!(host.close().await.success());
}

#[tokio::test]
async fn s5_poisoned_descriptions_are_stripped_and_capped() {
    let cfg = write_config(
        &json!({"servers": {"fx": fixture(&["--poisoned"])}, "orchestrator": fast_settings()}),
    );
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let tools = host.client.list_all_tools().await.unwrap();
    let tool = tools
        .iter()
        .find(|t| t.name == "fx__poisoned")
        .expect("listed");
    let description = tool.description.as_deref().unwrap();
    let bad: Vec<char> = description
        .chars()
        .filter(|c| {
            (c.is_control() && *c != '\n' && *c != '\t')
                || matches!(*c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2066..=0x2069 | 0xE0000..=0xE007F)
        })
        .collect();
    assert!(bad.is_empty(), "left in: {bad:?}");
    assert!(
        description.starts_with("[2JClears"),
        "{}",
        &description[..40]
    );
    assert!(
        description.len() <= 8 * 1024 + 4,
        "{} bytes",
        description.len()
    );
    // Every host-facing name is one hosts accept.
    for t in &tools {
        let ok = !t.name.is_empty()
            && t.name.len() <= 64
            && t.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        assert!(ok, "{}", t.name);
    }
    let _: Value = host.status().await;
    assert!(host.close().await.success());
}
