//! Durations in workflow files: integer milliseconds, or a string `"180000"`, `"500ms"`,
//! `"30s"`, `"3m"`, `"1h"`.

use std::time::Duration;

use serde_json::Value;

/// The duration `value` spells, or a message saying what is accepted.
pub fn parse(value: &Value) -> Result<Duration, String> {
    let ms = match value {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{n} is not a duration: {ACCEPTED}"))?,
        Value::String(s) => {
            text(s).ok_or_else(|| format!("`{s}` is not a duration: {ACCEPTED}"))?
        }
        other => return Err(format!("{other} is not a duration: {ACCEPTED}")),
    };
    if ms == 0 {
        return Err(format!("a duration must be more than 0: {ACCEPTED}"));
    }
    Ok(Duration::from_millis(ms))
}

const ACCEPTED: &str =
    "use whole milliseconds (180000) or a string with a unit (\"500ms\", \"30s\", \"3m\", \"1h\")";

/// Milliseconds from `"180000"` or `"<n><unit>"`; `None` when malformed or too large.
fn text(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(digits);
    if n.is_empty() {
        return None;
    }
    let n: u64 = n.parse().ok()?;
    let scale = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn accepts_milliseconds_and_units() {
        for (v, ms) in [
            (json!(180_000), 180_000),
            (json!("180000"), 180_000),
            (json!("500ms"), 500),
            (json!("30s"), 30_000),
            (json!("3m"), 180_000),
            (json!("1h"), 3_600_000),
        ] {
            assert_eq!(parse(&v), Ok(Duration::from_millis(ms)), "{v}");
        }
    }

    #[test]
    fn refuses_zero_negative_fractions_and_unknown_units() {
        for v in [
            json!(0),
            json!("0s"),
            json!(-5),
            json!(1.5),
            json!("3d"),
            json!("m"),
            json!(""),
            json!("1.5s"),
            json!(true),
            json!("99999999999999999999h"),
        ] {
            let e = parse(&v).unwrap_err();
            assert!(e.contains("milliseconds"), "{v}: {e}");
        }
    }
}
