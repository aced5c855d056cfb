//! The `orchestrator` section: durations, counts and policies, with defaults applied.

use std::time::Duration;

use serde_json::Value;

use super::Validator;
use crate::config::{
    ConfigError,
    raw::RawSettings,
    types::{BreakerConfig, Settings},
};

impl Validator<'_> {
    pub(super) fn settings(&self, raw: Option<Value>) -> Result<Settings, ConfigError> {
        let Some(raw) = raw else {
            return Ok(Settings::default());
        };
        let raw: RawSettings = self.parse("orchestrator", raw)?;
        let d = Settings::default();
        let secs = |key: &str, v: Option<f64>, default: Duration| match v {
            Some(v) => self.seconds(&format!("orchestrator.{key}"), v),
            None => Ok(default),
        };
        let count = |key: &str, v: Option<u32>, default: u32, min: u32| match v {
            Some(v) if v < min => Err(self.invalid(
                &format!("orchestrator.{key}"),
                format!("must be at least {min}"),
            )),
            Some(v) => Ok(v),
            None => Ok(default),
        };
        let max_message_bytes = match raw.max_message_bytes {
            Some(b) if b < 64 * 1024 => {
                return Err(
                    self.invalid("orchestrator.max_message_bytes", "must be at least 65536")
                );
            }
            Some(b) => usize::try_from(b).unwrap_or(usize::MAX),
            None => d.max_message_bytes,
        };
        let startup_timeout = secs("startup_timeout", raw.startup_timeout, d.startup_timeout)?;
        Ok(Settings {
            default_timeout: secs("default_timeout", raw.default_timeout, d.default_timeout)?,
            retry_attempts: count("retry_attempts", raw.retry_attempts, d.retry_attempts, 1)?,
            health_check_interval: secs(
                "health_check_interval",
                raw.health_check_interval,
                d.health_check_interval,
            )?,
            health_check_timeout: secs(
                "health_check_timeout",
                raw.health_check_timeout,
                d.health_check_timeout,
            )?,
            health_check_failures: count(
                "health_check_failures",
                raw.health_check_failures,
                d.health_check_failures,
                1,
            )?,
            startup_timeout,
            first_list_wait: match raw.first_list_wait {
                Some(0.0) => Duration::ZERO,
                v => secs("first_list_wait", v, d.first_list_wait)?.min(startup_timeout),
            },
            max_restarts: count("max_restarts", raw.max_restarts, d.max_restarts, 0)?,
            restart_window: secs("restart_window", raw.restart_window, d.restart_window)?,
            max_message_bytes,
            shutdown_grace: secs("shutdown_grace", raw.shutdown_grace, d.shutdown_grace)?,
            drain_timeout: secs("drain_timeout", raw.drain_timeout, d.drain_timeout)?,
            max_in_flight: count(
                "max_in_flight",
                raw.max_in_flight,
                d.max_in_flight as u32,
                1,
            )? as usize,
            cache_ttl: match raw.cache_ttl {
                Some(0.0) => Duration::ZERO,
                v => secs("cache_ttl", v, d.cache_ttl)?,
            },
            breaker: BreakerConfig {
                failure_rate: match raw.breaker_failure_rate {
                    Some(r) if r > 0.0 && r <= 1.0 => r,
                    Some(_) => {
                        return Err(self.invalid(
                            "orchestrator.breaker_failure_rate",
                            "must be within (0, 1]",
                        ));
                    }
                    None => d.breaker.failure_rate,
                },
                min_calls: count(
                    "breaker_min_calls",
                    raw.breaker_min_calls,
                    d.breaker.min_calls as u32,
                    1,
                )? as usize,
                window: secs("breaker_window", raw.breaker_window, d.breaker.window)?,
                cooldown: secs("breaker_cooldown", raw.breaker_cooldown, d.breaker.cooldown)?,
            },
            pin_tools: raw.pin_tools.unwrap_or(d.pin_tools),
            pin_file: match raw.pin_file {
                Some(p) => {
                    Some(self.relative_to_file(&self.expand("orchestrator.pin_file", &p)?.value))
                }
                None => None,
            },
        })
    }
}
