//! The canonical body of a definition and its sha256: what a run is pinned to.
//!
//! The body is the raw document as compact JSON with every object's keys sorted, so the YAML and
//! the JSON spelling of one document, or two key orders, pin the same sha; and reading the body
//! back gives the same body again. The document is validated in that canonical form too, so a
//! definition loaded from a file and the same one read back from the store are equal, down to
//! the key order of rendered params and output.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::raw::RawDefinition;

/// A document in canonical form: its objects' keys sorted.
pub struct Canonical {
    /// The document, keys sorted.
    pub raw: RawDefinition,
    /// Its compact JSON.
    pub body: String,
    /// The hex SHA-256 of `body`.
    pub sha256: String,
}

/// `raw` in canonical form.
pub fn canonical(raw: &RawDefinition) -> Result<Canonical, serde_json::Error> {
    let value = sorted(serde_json::to_value(raw)?);
    let body = serde_json::to_string(&value)?;
    let sha256 = hex::encode(Sha256::digest(body.as_bytes()));
    Ok(Canonical {
        raw: serde_json::from_value(value)?,
        body,
        sha256,
    })
}

/// `v` with every object's keys in order (the crate keeps insertion order otherwise).
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}
