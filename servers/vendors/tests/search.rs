//! The search servers against wiremock fakes of Brave, Tavily and SearXNG, over real stdio.

mod common;

use common::{classification, errors, refs, start, structured, text};
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_partial_json, header, method, path, query_param},
};

const BRAVE_KEY: &str = "brave-test-key-0123456789";
const TAVILY_KEY: &str = "tvly-test-key-0123456789";

fn brave_env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("BRAVE_API_KEY", BRAVE_KEY.into()),
        ("BRAVE_BASE_URL", format!("{base}/res/v1")),
    ]
}

fn tavily_env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TAVILY_API_KEY", TAVILY_KEY.into()),
        ("TAVILY_BASE_URL", base.to_owned()),
    ]
}

fn searxng_env(base: &str) -> Vec<(&'static str, String)> {
    vec![("SEARXNG_URL", base.to_owned())]
}

fn hits(n: usize) -> Vec<serde_json::Value> {
    (1..=n)
        .map(|i| json!({"title": format!("Result {i}"), "url": format!("https://example.org/{i}")}))
        .collect()
}

#[tokio::test]
async fn brave_web_search() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/res/v1/web/search"))
        .and(query_param("q", "rust mcp"))
        .and(query_param("count", "2"))
        .and(header("x-subscription-token", BRAVE_KEY))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "type": "search",
            "query": {"original": "rust mcp"},
            "web": {"type": "search", "results": [
                {"title": "The <strong>Rust</strong> SDK", "url": "https://example.org/sdk", "description": "Build <strong>MCP</strong> servers &amp; clients", "type": "search_result"},
                {"title": "Second", "url": "https://example.org/2", "description": "More"}
            ]}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let vendor = start("brave", &refs(&brave_env(&server.uri()))).await;
    let r = vendor
        .result("search_web", json!({"query": "rust mcp", "num_results": 2}))
        .await;
    assert_eq!(
        structured(&r),
        json!({"results": [
            {"title": "The Rust SDK", "url": "https://example.org/sdk", "snippet": "Build MCP servers & clients"},
            {"title": "Second", "url": "https://example.org/2", "snippet": "More"}
        ], "provider": "brave"})
    );
    assert!(text(&r).starts_with("2 result(s) from brave"));
    vendor.finish().await;
}

#[tokio::test]
async fn brave_without_web_section_is_empty() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/res/v1/web/search"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"type": "search", "query": {"original": "zzz"}})),
        )
        .mount(&server)
        .await;
    let vendor = start("brave", &refs(&brave_env(&server.uri()))).await;
    let r = vendor.result("search_web", json!({"query": "zzz"})).await;
    assert_eq!(structured(&r), json!({"results": [], "provider": "brave"}));
    vendor.finish().await;
}

#[tokio::test]
async fn tavily_search() {
    let server = MockServer::start().await;
    let results: Vec<_> = (1..=3)
        .map(|i| json!({"title": format!("T{i}"), "url": format!("https://t.example/{i}"), "content": format!(" content {i} "), "score": 0.9}))
        .collect();
    Mock::given(method("POST"))
        .and(path("/search"))
        .and(header("authorization", format!("Bearer {TAVILY_KEY}").as_str()))
        .and(body_partial_json(json!({"query": "weather api", "max_results": 3})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "query": "weather api", "answer": null, "images": [], "results": results, "response_time": 0.8
        })))
        .expect(1)
        .mount(&server)
        .await;
    let vendor = start("tavily", &refs(&tavily_env(&server.uri()))).await;
    let r = vendor
        .result(
            "search_web",
            json!({"query": "weather api", "num_results": 3}),
        )
        .await;
    let out = structured(&r);
    assert_eq!(out["provider"], "tavily");
    assert_eq!(out["results"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        out["results"][0],
        json!({"title": "T1", "url": "https://t.example/1", "snippet": "content 1"})
    );
    vendor.finish().await;
}

#[tokio::test]
async fn searxng_honours_num_results() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/search"))
        .and(query_param("q", "privacy"))
        .and(query_param("format", "json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "query": "privacy", "number_of_results": 0, "results": hits(20), "answers": [], "suggestions": [], "infoboxes": []
        })))
        .mount(&server)
        .await;
    let vendor = start("searxng", &refs(&searxng_env(&server.uri()))).await;
    let r = vendor
        .result("search_web", json!({"query": "privacy", "num_results": 4}))
        .await;
    let out = structured(&r);
    assert_eq!(out["results"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        out["results"][3],
        json!({"title": "Result 4", "url": "https://example.org/4", "snippet": ""})
    );
    let r = vendor
        .result("search_web", json!({"query": "privacy"}))
        .await;
    assert_eq!(
        structured(&r)["results"].as_array().map(Vec::len),
        Some(5),
        "default is 5"
    );
    vendor.finish().await;
}

#[tokio::test]
async fn searxng_json_disabled_says_so() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/search"))
        .respond_with(ResponseTemplate::new(403).set_body_string("<html>403 Forbidden</html>"))
        .mount(&server)
        .await;
    let vendor = start("searxng", &refs(&searxng_env(&server.uri()))).await;
    let r = vendor.result("search_web", json!({"query": "x"})).await;
    assert_eq!(classification(&r)["status"], 403);
    assert!(text(&r).contains("search.formats"), "{}", text(&r));
    vendor.finish().await;
}

#[tokio::test]
async fn num_results_out_of_range_is_invalid_params() {
    let server = MockServer::start().await;
    let vendor = start("searxng", &refs(&searxng_env(&server.uri()))).await;
    for args in [
        json!({"query": "x", "num_results": 0}),
        json!({"query": "x", "num_results": 21}),
        json!({"query": "  "}),
    ] {
        let err = vendor
            .call("search_web", args.clone())
            .await
            .expect_err("invalid");
        assert!(
            matches!(err, rmcp::ServiceError::McpError(ref e) if e.code == rmcp::model::ErrorCode::INVALID_PARAMS),
            "{args}: {err}"
        );
    }
    vendor.finish().await;
}

#[tokio::test]
async fn brave_failures_are_classified() {
    errors::run(errors::Matrix {
        provider: "brave",
        env: &brave_env,
        tool: "search_web",
        args: json!({"query": "q"}),
        http_method: "GET",
        path: "/res/v1/web/search",
        secret: Some(BRAVE_KEY),
        not_found_kind: "not_found",
        auth_hint: "check BRAVE_API_KEY",
    })
    .await;
}

#[tokio::test]
async fn tavily_failures_are_classified() {
    errors::run(errors::Matrix {
        provider: "tavily",
        env: &tavily_env,
        tool: "search_web",
        args: json!({"query": "q"}),
        http_method: "POST",
        path: "/search",
        secret: Some(TAVILY_KEY),
        not_found_kind: "not_found",
        auth_hint: "check TAVILY_API_KEY",
    })
    .await;
}

#[tokio::test]
async fn searxng_failures_are_classified() {
    errors::run(errors::Matrix {
        provider: "searxng",
        env: &searxng_env,
        tool: "search_web",
        args: json!({"query": "q"}),
        http_method: "GET",
        path: "/search",
        secret: None,
        not_found_kind: "not_found",
        auth_hint: "refused access",
    })
    .await;
}
