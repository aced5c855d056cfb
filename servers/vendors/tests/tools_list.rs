//! Snapshots of every provider's `tools/list`, as a client sees it over stdio: a change to a
//! tool's name, description or schema (a shape in `mcp-tool-shapes`, a limit) shows up as a diff
//! to review instead of slipping through to the router and the hosts.

mod common;

use common::start;

/// Where the providers' base URLs point: nothing listens there, and `tools/list` is answered
/// without calling the vendor.
const NOWHERE: &str = "http://127.0.0.1:9";

async fn snapshot(provider: &str, env: &[(&str, &str)]) {
    let vendor = start(provider, env).await;
    let tools = vendor.tools().await;
    vendor.finish().await;
    insta::assert_json_snapshot!(provider, tools);
}

#[tokio::test]
async fn openai_tools() {
    let env = [
        ("OPENAI_API_KEY", "sk-test-0123456789"),
        ("OPENAI_BASE_URL", NOWHERE),
    ];
    snapshot("openai", &env).await;
}

#[tokio::test]
async fn groq_tools() {
    let env = [
        ("GROQ_API_KEY", "gsk-test-0123456789"),
        ("GROQ_BASE_URL", NOWHERE),
    ];
    snapshot("groq", &env).await;
}

#[tokio::test]
async fn openweathermap_tools() {
    let env = [
        ("WEATHER_API_KEY", "owm-test-0123456789"),
        ("OPENWEATHERMAP_BASE_URL", NOWHERE),
    ];
    snapshot("openweathermap", &env).await;
}

#[tokio::test]
async fn open_meteo_tools() {
    let env = [
        ("OPEN_METEO_BASE_URL", NOWHERE),
        ("OPEN_METEO_GEOCODING_URL", NOWHERE),
    ];
    snapshot("open_meteo", &env).await;
}

#[tokio::test]
async fn brave_tools() {
    let env = [
        ("BRAVE_API_KEY", "brave-test-0123456789"),
        ("BRAVE_BASE_URL", NOWHERE),
    ];
    snapshot("brave", &env).await;
}

#[tokio::test]
async fn tavily_tools() {
    let env = [
        ("TAVILY_API_KEY", "tvly-test-0123456789"),
        ("TAVILY_BASE_URL", NOWHERE),
    ];
    snapshot("tavily", &env).await;
}

#[tokio::test]
async fn searxng_tools() {
    snapshot("searxng", &[("SEARXNG_URL", NOWHERE)]).await;
}
