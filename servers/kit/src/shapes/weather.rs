//! The `get_weather` tool.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ToolOutput;

/// Unit system of a weather answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    /// °C, wind in m/s.
    #[default]
    Metric,
    /// °F, wind in mph.
    Imperial,
}

impl Units {
    /// The temperature unit symbol.
    pub fn temperature_symbol(self) -> &'static str {
        match self {
            Self::Metric => "°C",
            Self::Imperial => "°F",
        }
    }

    /// The wind speed unit.
    pub fn wind_symbol(self) -> &'static str {
        match self {
            Self::Metric => "m/s",
            Self::Imperial => "mph",
        }
    }
}

/// Arguments of `get_weather`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct WeatherArgs {
    /// A place name ("Paris", "Paris, FR", "Springfield, Illinois") or "latitude,longitude".
    pub location: String,
    /// `metric` (default: °C, m/s) or `imperial` (°F, mph).
    #[serde(default)]
    pub units: Units,
}

/// Result of `get_weather`: current conditions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct WeatherOutput {
    /// The place the provider resolved the request to.
    pub location: String,
    /// Air temperature, in °C (metric) or °F (imperial).
    pub temperature: f64,
    /// Conditions in words ("light rain").
    pub description: String,
    /// Relative humidity, percent.
    pub humidity: f64,
    /// Wind speed, in m/s (metric) or mph (imperial).
    pub wind_speed: f64,
    /// The unit system of the figures.
    pub units: Units,
    /// The server id that answered.
    pub provider: String,
    /// Latitude of the place.
    pub latitude: Option<f64>,
    /// Longitude of the place.
    pub longitude: Option<f64>,
}

impl ToolOutput for WeatherOutput {
    fn summary(&self) -> String {
        format!(
            "{}: {:.1} {}, {}, humidity {:.0}%, wind {:.1} {} ({})",
            self.location,
            self.temperature,
            self.units.temperature_symbol(),
            self.description,
            self.humidity,
            self.wind_speed,
            self.units.wind_symbol(),
            self.provider
        )
    }
}
