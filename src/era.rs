//! The two eras of MCP a peer can speak: the handshake era (`initialize`, sessions; up to
//! 2025-11-25) and the stateless era (`server/discover`, per-request `_meta`; 2026-07-28 on).
//! Hosts and children are each in one, per connection or per request, and the bridge between
//! them depends on which.

use rmcp::model::ProtocolVersion;
use serde::Serialize;

/// The protocol era of a connection or a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Era {
    /// `initialize` and a session: server-to-client requests, ping, `logging/setLevel`.
    Legacy,
    /// Stateless requests: input requests ride on results (`InputRequiredResult`), lists are
    /// watched with `subscriptions/listen`.
    Modern,
}

impl Era {
    /// The era a negotiated protocol version belongs to.
    pub fn of(version: &ProtocolVersion) -> Self {
        // ISO dates compare as strings in date order.
        if version.as_str() >= ProtocolVersion::V_2026_07_28.as_str() {
            Self::Modern
        } else {
            Self::Legacy
        }
    }
}

impl std::fmt::Display for Era {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Legacy => "legacy",
            Self::Modern => "modern",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_era_follows_the_version_date() {
        assert_eq!(Era::of(&ProtocolVersion::V_2025_11_25), Era::Legacy);
        assert_eq!(Era::of(&ProtocolVersion::V_2024_11_05), Era::Legacy);
        assert_eq!(Era::of(&ProtocolVersion::V_2026_07_28), Era::Modern);
        assert_eq!(Era::of(&ProtocolVersion::V_2025_06_18), Era::Legacy);
        let future: ProtocolVersion =
            serde_json::from_value(serde_json::json!("2027-01-01")).unwrap();
        assert_eq!(Era::of(&future), Era::Modern);
    }
}
