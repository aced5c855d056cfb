//! `serve --http`: the same surface over streamable HTTP, with Host checks and a bearer token.

use std::{
    io::{Read, Write},
    time::Duration,
};

use rmcp::{
    ServiceExt,
    model::CallToolRequestParams,
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::json;

use crate::common::*;

async fn serve_http(cfg: &TempConfig, token: Option<&str>, extra: &[&str]) -> HttpServe {
    let mut env = vec![("XDG_RUNTIME_DIR", cfg.dir.path().display().to_string())];
    if let Some(t) = token {
        env.push(("MCP_ORCHESTRATOR_HTTP_TOKEN", t.to_owned()));
    }
    HttpServe::start(&cfg.path, extra, &env).await
}

/// A raw HTTP POST of an `initialize`, returning the status code.
fn raw_initialize(port: u16, host: &str, auth: Option<&str>) -> u16 {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})
    .to_string();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let auth = auth
        .map(|a| format!("Authorization: Bearer {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn http_serves_the_same_surface_to_several_sessions() {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let mut srv = serve_http(&cfg, None, &[]).await;
    let mut clients = Vec::new();
    for _ in 0..2 {
        let transport = StreamableHttpClientTransport::from_uri(srv.url.clone());
        clients.push(().serve(transport).await.unwrap());
    }
    for c in &clients {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let names: Vec<String> = c
                .list_all_tools()
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.name.to_string())
                .collect();
            if names.contains(&"fx__echo".to_owned()) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{names:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let r = c
            .call_tool(
                CallToolRequestParams::new("fx__echo")
                    .with_arguments(json!({"message": "over http"}).as_object().unwrap().clone()),
            )
            .await
            .unwrap();
        assert_eq!(r.content[0].as_text().unwrap().text, "echo: over http");
    }
    for c in clients {
        c.cancel().await.unwrap();
    }
    // DNS rebinding: a foreign Host header is refused before MCP is spoken.
    let port = srv.port;
    let code = tokio::task::spawn_blocking(move || raw_initialize(port, "evil.example", None))
        .await
        .unwrap();
    assert_eq!(code, 403);
    let code = tokio::task::spawn_blocking(move || raw_initialize(port, "127.0.0.1", None))
        .await
        .unwrap();
    assert_eq!(code, 200);
    srv.child.kill().await.unwrap();
}

#[tokio::test]
async fn http_requires_the_bearer_token_when_one_is_set() {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let mut srv = serve_http(&cfg, Some("s3cret-token-value"), &[]).await;
    let port = srv.port;
    let codes = tokio::task::spawn_blocking(move || {
        (
            raw_initialize(port, "127.0.0.1", None),
            raw_initialize(port, "127.0.0.1", Some("wrong-token")),
            raw_initialize(port, "127.0.0.1", Some("s3cret-token-value")),
        )
    })
    .await
    .unwrap();
    assert_eq!(codes, (401, 401, 200));
    let config = StreamableHttpClientTransportConfig::with_uri(srv.url.clone())
        .auth_header("s3cret-token-value");
    let client = ().serve(StreamableHttpClientTransport::from_config(config)).await.unwrap();
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(names.contains(&"orchestrator_status".to_owned()));
    client.cancel().await.unwrap();
    srv.child.kill().await.unwrap();
}

#[test]
fn http_refuses_a_public_address_without_an_allowed_host() {
    let cfg = write_config(&json!({"servers": {}}));
    let (code, _, err) = cli(&cfg.path, &["serve", "--http", "0.0.0.0:0"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--allow-host"), "{err}");
}
