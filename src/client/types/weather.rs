//! `get_weather`: the request builder and the answer.

use mcp_tool_shapes::WeatherArgs;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{RouteOptions, arguments};
use crate::report::Routing;

/// Units for weather: the vendor servers' own type.
pub use mcp_tool_shapes::Units;

/// A `get_weather` request.
///
/// ```
/// use mcp_orchestrator::client::{Units, WeatherRequest};
/// let args = WeatherRequest::new("Oslo").units(Units::Imperial).to_arguments();
/// assert_eq!(args["location"], "Oslo");
/// assert_eq!(args["units"], "imperial");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeatherRequest {
    args: WeatherArgs,
    route: RouteOptions,
}

impl WeatherRequest {
    /// Weather at a place.
    pub fn new(location: impl Into<String>) -> Self {
        Self {
            args: WeatherArgs {
                location: location.into(),
                ..WeatherArgs::default()
            },
            route: RouteOptions::default(),
        }
    }

    /// Units (default metric).
    pub fn units(mut self, units: Units) -> Self {
        self.args.units = units;
        self
    }

    route_setters!();

    /// The tool arguments this request sends.
    pub fn to_arguments(&self) -> Map<String, Value> {
        arguments(&self.args, &self.route)
    }
}

impl From<&str> for WeatherRequest {
    fn from(l: &str) -> Self {
        Self::new(l)
    }
}

/// A `get_weather` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct WeatherResponse {
    /// The place as the vendor resolved it.
    pub location: String,
    /// Temperature in the requested units.
    pub temperature: f64,
    /// Conditions in words.
    #[serde(default)]
    pub description: String,
    /// Relative humidity, %.
    #[serde(default)]
    pub humidity: Option<f64>,
    /// Wind speed in the requested units.
    #[serde(default)]
    pub wind_speed: Option<f64>,
    /// `metric` or `imperial`.
    #[serde(default)]
    pub units: Option<String>,
    /// The vendor.
    #[serde(default)]
    pub provider: Option<String>,
    /// How the request was routed.
    #[serde(default)]
    pub routing: Routing,
}
