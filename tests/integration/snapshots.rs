//! What a host sees in `tools/list`, as a snapshot: the orchestrator's own tools, the unified
//! tools a config offers (with their schemas from `servers/shapes`), and a child's tools under
//! their namespaced names. Any change to a tool definition shows up as a diff in review.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn tools_list_as_a_host_sees_it() {
    let cfg = write_config(&json!({
        "servers": {
            "fx": fixture(&[]),
            "weather": {
                "command": fixture_bin(), "args": ["--vendor", "w", "--mode", "ok"],
                "tools": ["get_weather", "chat"]
            }
        },
        "orchestrator": fast_settings(),
    }));
    let host = Host::start(&cfg.path).await;
    let tools = host.client.list_all_tools().await.expect("tools/list");
    host.close().await;
    insta::assert_json_snapshot!("orchestrator_tools_list", tools);
}
