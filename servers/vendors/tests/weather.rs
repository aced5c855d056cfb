//! The weather servers against wiremock fakes of Open-Meteo and OpenWeatherMap, over real stdio.

mod common;

use common::{classification, errors, refs, start, structured, text};
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param},
};

const OWM_KEY: &str = "owm-test-key-0123456789abcdef";

fn open_meteo_env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OPEN_METEO_BASE_URL", format!("{base}/v1")),
        ("OPEN_METEO_GEOCODING_URL", format!("{base}/geo/v1")),
    ]
}

fn owm_env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WEATHER_API_KEY", OWM_KEY.into()),
        ("OPENWEATHERMAP_BASE_URL", format!("{base}/data/2.5")),
    ]
}

async fn geocoding(server: &MockServer, name: &str, results: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/geo/v1/search"))
        .and(query_param("name", name))
        .and(query_param("count", "10"))
        .respond_with(ResponseTemplate::new(200).set_body_json(results))
        .mount(server)
        .await;
}

#[tokio::test]
async fn open_meteo_geocodes_then_forecasts() {
    let server = MockServer::start().await;
    geocoding(&server, "Paris", json!({"results": [
        {"id": 1, "name": "Paris", "latitude": 33.66, "longitude": -95.55, "country": "United States", "country_code": "US", "admin1": "Texas"},
        {"id": 2, "name": "Paris", "latitude": 48.85341, "longitude": 2.3488, "country": "France", "country_code": "FR", "admin1": "Île-de-France"}
    ], "generationtime_ms": 0.5}))
    .await;
    Mock::given(method("GET"))
        .and(path("/v1/forecast"))
        .and(query_param("latitude", "48.85341"))
        .and(query_param("longitude", "2.3488"))
        .and(query_param("current", "temperature_2m,relative_humidity_2m,wind_speed_10m,weather_code"))
        .and(query_param("temperature_unit", "fahrenheit"))
        .and(query_param("wind_speed_unit", "mph"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "latitude": 48.86, "longitude": 2.35, "timezone": "Europe/Paris",
            "current_units": {"temperature_2m": "°F", "relative_humidity_2m": "%", "wind_speed_10m": "mp/h", "weather_code": "wmo code"},
            "current": {"time": "2026-11-20T10:00", "interval": 900, "temperature_2m": 50.2, "relative_humidity_2m": 81, "wind_speed_10m": 7.4, "weather_code": 61}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let vendor = start("open_meteo", &refs(&open_meteo_env(&server.uri()))).await;
    let r = vendor
        .result(
            "get_weather",
            json!({"location": "Paris, FR", "units": "imperial"}),
        )
        .await;
    assert_eq!(
        structured(&r),
        json!({"location": "Paris, Île-de-France, France", "temperature": 50.2, "description": "slight rain",
               "humidity": 81.0, "wind_speed": 7.4, "units": "imperial", "provider": "open_meteo",
               "latitude": 48.85341, "longitude": 2.3488})
    );
    assert!(text(&r).contains("50.2 °F"), "{}", text(&r));
    vendor.finish().await;
}

#[tokio::test]
async fn open_meteo_unknown_place() {
    let server = MockServer::start().await;
    geocoding(&server, "Atlantisville", json!({"generationtime_ms": 0.3})).await;
    let vendor = start("open_meteo", &refs(&open_meteo_env(&server.uri()))).await;
    let r = vendor
        .result("get_weather", json!({"location": "Atlantisville"}))
        .await;
    assert_eq!(
        classification(&r),
        json!({"kind": "unknown_location", "retryable": false, "retry_after_ms": null, "status": null})
    );
    assert!(
        text(&r).starts_with("unknown location 'Atlantisville'"),
        "{}",
        text(&r)
    );
    vendor.finish().await;
}

#[tokio::test]
async fn open_meteo_bad_units_are_invalid_params() {
    let server = MockServer::start().await;
    let vendor = start("open_meteo", &refs(&open_meteo_env(&server.uri()))).await;
    let err = vendor
        .call(
            "get_weather",
            json!({"location": "Paris", "units": "kelvin"}),
        )
        .await
        .expect_err("invalid");
    assert!(
        matches!(err, rmcp::ServiceError::McpError(e) if e.code == rmcp::model::ErrorCode::INVALID_PARAMS)
    );
    vendor.finish().await;
}

#[tokio::test]
async fn open_meteo_failures_are_classified() {
    errors::run(errors::Matrix {
        provider: "open_meteo",
        env: &open_meteo_env,
        tool: "get_weather",
        args: json!({"location": "Paris"}),
        http_method: "GET",
        path: "/geo/v1/search",
        secret: None,
        not_found_kind: "not_found",
        auth_hint: "refused access",
    })
    .await;
}

#[tokio::test]
async fn openweathermap_current_weather() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/data/2.5/weather"))
        .and(query_param("q", "London,GB"))
        .and(query_param("appid", OWM_KEY))
        .and(query_param("units", "metric"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "coord": {"lon": -0.1257, "lat": 51.5085},
            "weather": [{"id": 803, "main": "Clouds", "description": "broken clouds", "icon": "04d"}],
            "base": "stations",
            "main": {"temp": 11.3, "feels_like": 10.5, "temp_min": 10.0, "temp_max": 12.1, "pressure": 1012, "humidity": 76},
            "visibility": 10000, "wind": {"speed": 4.6, "deg": 240}, "clouds": {"all": 75},
            "dt": 1763640000, "sys": {"country": "GB", "sunrise": 1, "sunset": 2}, "timezone": 0, "id": 2643743, "name": "London", "cod": 200
        })))
        .expect(1)
        .mount(&server)
        .await;
    let vendor = start("openweathermap", &refs(&owm_env(&server.uri()))).await;
    let r = vendor
        .result("get_weather", json!({"location": "London,GB"}))
        .await;
    assert_eq!(
        structured(&r),
        json!({"location": "London, GB", "temperature": 11.3, "description": "broken clouds", "humidity": 76.0,
               "wind_speed": 4.6, "units": "metric", "provider": "openweathermap", "latitude": 51.5085, "longitude": -0.1257})
    );
    vendor.finish().await;
}

#[tokio::test]
async fn openweathermap_unknown_place() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/data/2.5/weather"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"cod": "404", "message": "city not found"})),
        )
        .mount(&server)
        .await;
    let vendor = start("openweathermap", &refs(&owm_env(&server.uri()))).await;
    let r = vendor
        .result("get_weather", json!({"location": "Atlantisville"}))
        .await;
    assert_eq!(classification(&r)["kind"], "unknown_location");
    assert!(text(&r).contains("OpenWeatherMap"), "{}", text(&r));
    vendor.finish().await;
}

#[tokio::test]
async fn openweathermap_failures_are_classified() {
    errors::run(errors::Matrix {
        provider: "openweathermap",
        env: &owm_env,
        tool: "get_weather",
        args: json!({"location": "London"}),
        http_method: "GET",
        path: "/data/2.5/weather",
        secret: Some(OWM_KEY),
        not_found_kind: "unknown_location",
        auth_hint: "check WEATHER_API_KEY",
    })
    .await;
}
