//! The weather servers: same `get_weather` tool, two providers.

pub mod open_meteo;
pub mod openweathermap;
mod wmo;

use mcp_server_kit::{ErrorKind, VendorError};

/// A `get_weather` location given as "latitude,longitude", if it is one.
fn coordinates(location: &str) -> Option<(f64, f64)> {
    let (lat, lon) = location.split_once(',')?;
    let lat: f64 = lat.trim().parse().ok()?;
    let lon: f64 = lon.trim().parse().ok()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

/// The error for a place the provider does not know.
fn unknown_location(location: &str, provider: &str) -> VendorError {
    VendorError::new(
        ErrorKind::UnknownLocation,
        format!(
            "unknown location '{location}': {provider} found no such place (try \"City, Country\" or \"lat,lon\")"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::coordinates;

    #[test]
    fn parses_coordinates_only() {
        assert_eq!(coordinates("48.85, 2.35"), Some((48.85, 2.35)));
        assert_eq!(coordinates("Paris, FR"), None);
        assert_eq!(coordinates("95,0"), None);
    }
}
