//! `weather LOCATION`: the unified `get_weather` tool from a shell.

use std::{path::Path, process::ExitCode};

use super::{output, sdk};
use crate::client::{Units, WeatherRequest};

/// `weather` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// City or place.
    location: String,
    /// °F and mph instead of °C and m/s.
    #[arg(long)]
    imperial: bool,
    /// Vendor to use first.
    #[arg(long)]
    vendor: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Prints the current weather.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let units = if args.imperial {
        Units::Imperial
    } else {
        Units::Metric
    };
    let mut req = WeatherRequest::new(args.location).units(units);
    if let Some(v) = args.vendor {
        req = req.vendor(v);
    }
    let client = sdk::connect(path).await?;
    let answer = client.get_weather(req).await;
    client.close().await;
    let w = answer.map_err(sdk::failure)?;
    if args.json {
        output::json(&serde_json::json!({
            "location": w.location, "temperature": w.temperature, "description": w.description,
            "humidity": w.humidity, "wind_speed": w.wind_speed, "units": w.units,
            "provider": w.provider, "routing": w.routing,
        }));
    } else {
        let (t, v) = if args.imperial {
            ("°F", "mph")
        } else {
            ("°C", "m/s")
        };
        let humidity = w
            .humidity
            .map(|h| format!(", humidity {h:.0}%"))
            .unwrap_or_default();
        let wind = w
            .wind_speed
            .map(|s| format!(", wind {s:.1} {v}"))
            .unwrap_or_default();
        output::out(&format!(
            "{}: {:.1} {t}, {}{humidity}{wind}",
            w.location, w.temperature, w.description
        ));
        output::note(&sdk::served_by(&w.routing));
    }
    Ok(ExitCode::SUCCESS)
}
