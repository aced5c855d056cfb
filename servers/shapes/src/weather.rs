//! The `get_weather` tool.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{InvalidArgs, Shape};

/// `get_weather`: current conditions at a place.
pub struct GetWeather;

impl Shape for GetWeather {
    const NAME: &'static str = "get_weather";
    type Args = WeatherArgs;
    type Output = WeatherOutput;
}

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
    /// The name on the wire: `metric` or `imperial`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metric => "metric",
            Self::Imperial => "imperial",
        }
    }

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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WeatherArgs {
    /// A place name ("Paris", "Paris, FR", "Springfield, Illinois") or "latitude,longitude".
    pub location: String,
    /// `metric` (default: °C, m/s) or `imperial` (°F, mph).
    #[serde(default)]
    pub units: Units,
}

impl WeatherArgs {
    /// The trimmed location, which must not be blank.
    pub fn location(&self) -> Result<&str, InvalidArgs> {
        let location = self.location.trim();
        if location.is_empty() {
            return Err(InvalidArgs::new("`location` must not be empty"));
        }
        Ok(location)
    }
}

/// Result of `get_weather`: current conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_default_to_metric_and_use_lowercase_names() {
        let args: WeatherArgs =
            serde_json::from_value(serde_json::json!({"location": " Oslo "})).unwrap();
        assert_eq!(
            (args.location().unwrap(), args.units),
            ("Oslo", Units::Metric)
        );
        assert_eq!(
            serde_json::to_value(Units::Imperial).unwrap(),
            Units::Imperial.as_str()
        );
    }

    #[test]
    fn a_blank_location_is_refused() {
        let args = WeatherArgs {
            location: " ".into(),
            ..WeatherArgs::default()
        };
        assert!(args.location().is_err());
    }
}
