//! The merged surface: namespacing, long names, collisions, prompts and resources, list_changed.

use std::time::Duration;

use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn tools_of_every_child_are_namespaced_valid_and_callable() {
    let cfg = write_config(&json!({
        "servers": { "alpha": fixture(&["--long-names", "--tool", "x.y", "--tool", "x_y"]) },
        "mcpServers": { "beta": fixture(&[]) },
        "orchestrator": fast_settings(),
    }));
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| {
        state_of(s, "alpha") == "running" && state_of(s, "beta") == "running"
    })
    .await;
    let names = host.tool_names().await;
    assert!(names.contains(&"orchestrator_status".to_owned()));
    assert!(names.contains(&"alpha__echo".to_owned()));
    assert!(names.contains(&"beta__echo".to_owned()));
    let pattern_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    for n in &names {
        assert!(pattern_ok(n), "{n} breaks ^[a-zA-Z0-9_-]{{1,64}}$");
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "names are unique: {names:?}");
    // `x.y` and `x_y` both sanitise to alpha__x_y: the first keeps it, the second gets a hash.
    assert!(names.contains(&"alpha__x_y".to_owned()));
    let long = names
        .iter()
        .find(|n| n.starts_with("alpha__a_tool_name_that"))
        .expect("long name listed");
    assert_eq!(long.len(), 64);

    let r = host
        .call("beta__echo", json!({"message": "hi"}))
        .await
        .unwrap();
    assert_eq!(r.content[0].as_text().unwrap().text, "echo: hi");
    let r = host.call(long, json!({"message": "long"})).await.unwrap();
    assert!(r.content[0].as_text().unwrap().text.contains("long"));
    // A second start yields the same names: hashing and collision order are deterministic.
    let again = Host::start(&cfg.path).await;
    again
        .wait_status(Duration::from_secs(10), |s| {
            state_of(s, "beta") == "running"
        })
        .await;
    assert_eq!(again.tool_names().await, names);
    again.close().await;
    host.close().await;
}

#[tokio::test]
async fn results_pass_through_untouched_including_is_error() {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let r = host.call("fx__add", json!({"a": 2, "b": 3})).await.unwrap();
    assert_eq!(r.structured_content, Some(json!({"sum": 5.0})));
    let r = host
        .call("fx__fail", json!({"message": "quota exceeded"}))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    assert_eq!(r.content[0].as_text().unwrap().text, "quota exceeded");
    assert_eq!(
        r.structured_content,
        Some(json!({"reason": "quota exceeded"}))
    );
    host.close().await;
}

#[tokio::test]
async fn prompts_and_resources_are_aggregated_and_routed() {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let prompts = host.client.list_all_prompts().await.unwrap();
    assert_eq!(
        prompts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["fx__greet"]
    );
    let mut args = serde_json::Map::new();
    args.insert("name".into(), json!("Ada"));
    let p = host
        .client
        .get_prompt(GetPromptRequestParams::new("fx__greet").with_arguments(args))
        .await
        .unwrap();
    let text = serde_json::to_string(&p.messages).unwrap();
    assert!(text.contains("Hello, Ada!"), "{text}");
    let resources = host.client.list_all_resources().await.unwrap();
    assert_eq!(resources[0].uri, "fixture://info");
    let read = host
        .client
        .read_resource(ReadResourceRequestParams::new("fixture://info"))
        .await
        .unwrap();
    assert!(
        serde_json::to_string(&read)
            .unwrap()
            .contains("fixture info")
    );
    host.close().await;
}

#[tokio::test]
async fn a_childs_own_list_changed_reaches_the_host_once() {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    // Let start-up notifications settle before counting.
    let before = host.settled_list_changed().await;
    host.call("fx__add_tool", json!({"name": "brand_new"}))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !host
        .tool_names()
        .await
        .contains(&"fx__brand_new".to_owned())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "new tool never listed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        host.settled_list_changed().await - before,
        1,
        "exactly one coalesced list_changed"
    );
    host.close().await;
}
