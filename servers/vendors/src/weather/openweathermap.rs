//! The `openweathermap` server: OpenWeatherMap's current weather API (`WEATHER_API_KEY`).

use std::sync::Arc;

use mcp_server_kit::{
    Api, CallError, ErrorKind, HttpSettings, ToolServer,
    env::{self, ConfigError},
    shapes::{Units, WeatherArgs, WeatherOutput},
};
use serde::Deserialize;

use super::{coordinates, unknown_location};

const PROVIDER: &str = "openweathermap";

#[derive(Debug)]
struct OpenWeatherMap {
    api: Api,
    url: String,
}

#[derive(Debug, Deserialize)]
struct Answer {
    name: Option<String>,
    coord: Option<Coord>,
    #[serde(default)]
    weather: Vec<Condition>,
    main: Main,
    wind: Wind,
    sys: Option<Sys>,
}

#[derive(Debug, Deserialize)]
struct Coord {
    lat: f64,
    lon: f64,
}

#[derive(Debug, Deserialize)]
struct Condition {
    description: String,
}

#[derive(Debug, Deserialize)]
struct Main {
    temp: f64,
    humidity: f64,
}

#[derive(Debug, Deserialize)]
struct Wind {
    speed: f64,
}

#[derive(Debug, Deserialize)]
struct Sys {
    country: Option<String>,
}

impl OpenWeatherMap {
    async fn weather(&self, args: WeatherArgs) -> Result<WeatherOutput, CallError> {
        let location = args.location()?;
        let units = match args.units {
            Units::Metric => "metric",
            Units::Imperial => "imperial",
        };
        let key = self
            .api
            .key()
            .map(|k| k.expose().to_owned())
            .unwrap_or_default();
        let mut query = vec![
            ("appid", key),
            ("units", units.to_owned()),
            ("lang", "en".to_owned()),
        ];
        match coordinates(location) {
            Some((lat, lon)) => {
                query.push(("lat", lat.to_string()));
                query.push(("lon", lon.to_string()));
            }
            None => query.push(("q", location.to_owned())),
        }
        let request = self.api.client().get(&self.url).query(&query);
        let answer: Answer = self.api.json(request).await.map_err(|e| {
            // OpenWeatherMap says 404 {"cod":"404","message":"city not found"} for unknown places.
            if e.kind == ErrorKind::NotFound {
                unknown_location(location, "OpenWeatherMap").with_status(404)
            } else {
                e
            }
        })?;
        let label = match (
            answer.name.filter(|n| !n.is_empty()),
            answer.sys.and_then(|s| s.country),
        ) {
            (Some(name), Some(country)) => format!("{name}, {country}"),
            (Some(name), None) => name,
            (None, _) => location.to_owned(),
        };
        let description = answer
            .weather
            .into_iter()
            .map(|c| c.description)
            .collect::<Vec<_>>()
            .join(", ");
        Ok(WeatherOutput {
            location: label,
            temperature: answer.main.temp,
            description,
            humidity: answer.main.humidity,
            wind_speed: answer.wind.speed,
            units: args.units,
            provider: PROVIDER.to_owned(),
            latitude: answer.coord.as_ref().map(|c| c.lat),
            longitude: answer.coord.as_ref().map(|c| c.lon),
        })
    }
}

/// The `openweathermap` MCP server, configured by `WEATHER_API_KEY` and
/// `OPENWEATHERMAP_BASE_URL` (default `https://api.openweathermap.org/data/2.5`).
pub fn server(http: &HttpSettings) -> Result<ToolServer, ConfigError> {
    let key = env::secret("WEATHER_API_KEY")?;
    let base = env::base_url(
        "OPENWEATHERMAP_BASE_URL",
        "https://api.openweathermap.org/data/2.5",
    )?;
    let api = Arc::new(OpenWeatherMap {
        api: Api::new(http, "OpenWeatherMap").with_key("WEATHER_API_KEY", key),
        url: env::endpoint(&base, "/weather"),
    });
    Ok(ToolServer::new("mcp-vendor-openweathermap", env!("CARGO_PKG_VERSION"))
        .with_instructions("Current weather from OpenWeatherMap.")
        .tool(
            "get_weather",
            "Current weather at a place (name, \"City,CC\" or \"lat,lon\"): temperature, conditions, humidity, wind.",
            move |args: WeatherArgs| {
                let api = Arc::clone(&api);
                async move { api.weather(args).await }
            },
        ))
}
