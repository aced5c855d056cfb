//! The `alerts` section: rules with a known metric, an existing server, durations, and a
//! webhook URL.

use serde_json::Value;

use super::Validator;
use crate::config::{
    ConfigError,
    raw::RawAlert,
    types::{AlertMetric, AlertRule, ServerSpec},
};

impl Validator<'_> {
    pub(super) fn alerts(
        &self,
        raw: Vec<Value>,
        servers: &[ServerSpec],
    ) -> Result<Vec<AlertRule>, ConfigError> {
        let mut rules: Vec<AlertRule> = Vec::new();
        for (i, value) in raw.into_iter().enumerate() {
            let at = format!("alerts[{i}]");
            let r: RawAlert = self.parse(&at, value)?;
            if rules.iter().any(|x| x.name == r.name) {
                return Err(
                    self.invalid(&format!("{at}.name"), format!("`{}` is used twice", r.name))
                );
            }
            let metric = AlertMetric::ALL
                .iter()
                .find(|(s, _)| *s == r.metric)
                .map(|(_, m)| *m)
                .ok_or_else(|| {
                    let known: Vec<&str> = AlertMetric::ALL.iter().map(|(s, _)| *s).collect();
                    self.invalid(
                        &format!("{at}.metric"),
                        format!(
                            "unknown metric `{}` (one of {})",
                            r.metric,
                            known.join(", ")
                        ),
                    )
                })?;
            if let Some(s) = &r.server
                && !servers.iter().any(|x| &x.id == s)
            {
                return Err(self.invalid(
                    &format!("{at}.server"),
                    format!("no server `{s}` in the config"),
                ));
            }
            if !r.threshold.is_finite() {
                return Err(self.invalid(&format!("{at}.threshold"), "must be a number"));
            }
            let zero_ok = |key: &str, v: Option<f64>, default: f64| match v {
                None => Ok(std::time::Duration::from_secs_f64(default)),
                Some(0.0) => Ok(std::time::Duration::ZERO),
                Some(s) => self.seconds(&format!("{at}.{key}"), s),
            };
            let webhook = match r.webhook {
                Some(u) => {
                    let u = self.expand(&format!("{at}.webhook"), &u)?.value;
                    if !(u.starts_with("http://") || u.starts_with("https://")) {
                        return Err(self.invalid(
                            &format!("{at}.webhook"),
                            "must be an http:// or https:// URL",
                        ));
                    }
                    Some(u)
                }
                None => None,
            };
            rules.push(AlertRule {
                name: r.name,
                metric,
                server: r.server,
                threshold: r.threshold,
                below: r.below.unwrap_or(false),
                for_: zero_ok("for", r.for_, 0.0)?,
                cooldown: zero_ok("cooldown", r.cooldown, 300.0)?,
                webhook,
            });
        }
        Ok(rules)
    }
}
