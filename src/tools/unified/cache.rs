//! An exact-match cache for unified answers that do not change from one second to the next
//! (`embed`, `get_weather`, `search_web`; never `chat`).

use std::{collections::HashMap, sync::Mutex, time::Duration};

use rmcp::model::CallToolResult;
use serde_json::Value;
use tokio::time::Instant;

/// Entries kept at most; the oldest goes first.
const CAPACITY: usize = 1024;
#[derive(Default)]
pub struct Cache {
    entries: Mutex<HashMap<String, (Instant, CallToolResult)>>,
}

/// The key for a request: the tool and its arguments with object keys sorted, so that argument
/// order does not matter.
pub fn key(tool: &str, args: &Value) -> String {
    fn canonical(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let sorted: std::collections::BTreeMap<_, _> =
                    m.iter().map(|(k, v)| (k.clone(), canonical(v))).collect();
                Value::Object(sorted.into_iter().collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
            v => v.clone(),
        }
    }
    format!("{tool}\u{0}{}", canonical(args))
}

impl Cache {
    /// A fresh answer for `key`, if one is younger than `ttl`.
    pub fn get(&self, key: &str, ttl: Duration, now: Instant) -> Option<CallToolResult> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| now.duration_since(*at) < ttl)
            .map(|(_, r)| r.clone())
    }

    /// Stores an answer.
    pub fn put(&self, key: String, result: CallToolResult, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let full = entries.len() >= CAPACITY && !entries.contains_key(&key);
        if full
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        entries.insert(key, (now, result));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn key_ignores_argument_order() {
        assert_eq!(
            key("t", &json!({"a": 1, "b": {"y": 2, "x": 1}})),
            key("t", &json!({"b": {"x": 1, "y": 2}, "a": 1}))
        );
        assert_ne!(key("t", &json!({"a": 1})), key("u", &json!({"a": 1})));
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_and_capacity_holds() {
        let c = Cache::default();
        let t = Instant::now();
        c.put("k".into(), CallToolResult::success(vec![]), t);
        assert!(
            c.get("k", Duration::from_secs(5), t + Duration::from_secs(4))
                .is_some()
        );
        assert!(
            c.get("k", Duration::from_secs(5), t + Duration::from_secs(5))
                .is_none()
        );
        for i in 0..CAPACITY + 10 {
            c.put(
                format!("k{i}"),
                CallToolResult::success(vec![]),
                t + Duration::from_millis(i as u64),
            );
        }
        assert_eq!(c.entries.lock().unwrap().len(), CAPACITY);
        assert!(
            c.get("k0", Duration::from_secs(60), t).is_none(),
            "oldest evicted"
        );
    }
}
