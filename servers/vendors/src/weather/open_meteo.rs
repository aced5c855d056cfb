//! The `open_meteo` server: Open-Meteo geocoding, then the forecast API's current conditions.
//! No key needed.

use std::sync::Arc;

use mcp_server_kit::{
    Api, CallError, HttpSettings, ToolServer, VendorError,
    env::{self, ConfigError},
    shapes::{Units, WeatherArgs, WeatherOutput},
};
use serde::Deserialize;

use super::{coordinates, unknown_location, wmo};

const PROVIDER: &str = "open_meteo";

/// Open-Meteo's two APIs.
#[derive(Debug)]
struct OpenMeteo {
    forecast: Api,
    geocoding: Api,
    forecast_url: String,
    geocoding_url: String,
}

#[derive(Debug, Deserialize)]
struct GeocodingAnswer {
    /// Absent when nothing matches.
    #[serde(default)]
    results: Vec<Place>,
}

#[derive(Debug, Clone, Deserialize)]
struct Place {
    name: String,
    latitude: f64,
    longitude: f64,
    country: Option<String>,
    country_code: Option<String>,
    admin1: Option<String>,
}

impl Place {
    fn label(&self) -> String {
        let mut parts = vec![self.name.as_str()];
        parts.extend(self.admin1.as_deref().filter(|a| *a != self.name));
        parts.extend(self.country.as_deref());
        parts.join(", ")
    }

    /// Whether the qualifier after the comma ("FR", "Texas", "Germany") fits this place.
    fn matches(&self, qualifier: &str) -> bool {
        let q = qualifier.to_lowercase();
        [&self.country, &self.country_code, &self.admin1]
            .iter()
            .filter_map(|f| f.as_deref())
            .any(|f| f.to_lowercase() == q || f.to_lowercase().starts_with(&q))
    }
}

#[derive(Debug, Deserialize)]
struct ForecastAnswer {
    current: Current,
}

#[derive(Debug, Deserialize)]
struct Current {
    temperature_2m: f64,
    relative_humidity_2m: f64,
    wind_speed_10m: f64,
    weather_code: u32,
}

impl OpenMeteo {
    async fn place(&self, location: &str) -> Result<Place, VendorError> {
        // The geocoder matches names only: search the first part, use the rest to choose.
        let (name, qualifier) = match location.split_once(',') {
            Some((n, q)) => (n.trim(), Some(q.trim())),
            None => (location.trim(), None),
        };
        let request = self.geocoding.client().get(&self.geocoding_url).query(&[
            ("name", name),
            ("count", "10"),
            ("language", "en"),
            ("format", "json"),
        ]);
        let answer: GeocodingAnswer = self.geocoding.json(request).await?;
        let chosen = match qualifier.filter(|q| !q.is_empty()) {
            Some(q) => answer.results.iter().find(|p| p.matches(q)).cloned(),
            None => answer.results.first().cloned(),
        };
        chosen.ok_or_else(|| unknown_location(location, "Open-Meteo geocoding"))
    }

    async fn weather(&self, args: WeatherArgs) -> Result<WeatherOutput, CallError> {
        let location = args.location()?;
        let (label, lat, lon) = match coordinates(location) {
            Some((lat, lon)) => (format!("{lat}, {lon}"), lat, lon),
            None => {
                let place = self.place(location).await?;
                (place.label(), place.latitude, place.longitude)
            }
        };
        let (temperature_unit, wind_unit) = match args.units {
            Units::Metric => ("celsius", "ms"),
            Units::Imperial => ("fahrenheit", "mph"),
        };
        let request = self.forecast.client().get(&self.forecast_url).query(&[
            ("latitude", lat.to_string().as_str()),
            ("longitude", lon.to_string().as_str()),
            (
                "current",
                "temperature_2m,relative_humidity_2m,wind_speed_10m,weather_code",
            ),
            ("temperature_unit", temperature_unit),
            ("wind_speed_unit", wind_unit),
            ("timezone", "auto"),
        ]);
        let answer: ForecastAnswer = self.forecast.json(request).await?;
        let now = answer.current;
        Ok(WeatherOutput {
            location: label,
            temperature: now.temperature_2m,
            description: wmo::describe(now.weather_code).to_owned(),
            humidity: now.relative_humidity_2m,
            wind_speed: now.wind_speed_10m,
            units: args.units,
            provider: PROVIDER.to_owned(),
            latitude: Some(lat),
            longitude: Some(lon),
        })
    }
}

/// The `open_meteo` MCP server, configured by `OPEN_METEO_BASE_URL` (forecast API, default
/// `https://api.open-meteo.com/v1`) and `OPEN_METEO_GEOCODING_URL` (default
/// `https://geocoding-api.open-meteo.com/v1`).
pub fn server(http: &HttpSettings) -> Result<ToolServer, ConfigError> {
    let forecast_base = env::base_url("OPEN_METEO_BASE_URL", "https://api.open-meteo.com/v1")?;
    let geocoding_base = env::base_url(
        "OPEN_METEO_GEOCODING_URL",
        "https://geocoding-api.open-meteo.com/v1",
    )?;
    let api = Arc::new(OpenMeteo {
        forecast: Api::new(http, "Open-Meteo"),
        geocoding: Api::new(http, "Open-Meteo geocoding"),
        forecast_url: env::endpoint(&forecast_base, "/forecast"),
        geocoding_url: env::endpoint(&geocoding_base, "/search"),
    });
    Ok(ToolServer::new("mcp-vendor-open_meteo", env!("CARGO_PKG_VERSION"))
        .with_instructions("Current weather from Open-Meteo (no API key).")
        .tool(
            "get_weather",
            "Current weather at a place (name or \"lat,lon\"): temperature, conditions, humidity, wind.",
            move |args: WeatherArgs| {
                let api = Arc::clone(&api);
                async move { api.weather(args).await }
            },
        ))
}
