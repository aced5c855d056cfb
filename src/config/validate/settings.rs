//! The `orchestrator` section: durations, counts and policies, with defaults applied.

use std::time::Duration;

use serde_json::Value;

use super::Validator;
use crate::config::{
    ConfigError,
    raw::RawSettings,
    types::{BreakerConfig, ResourceLimits, Settings},
};
use crate::secrets::Secret;

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
            store: match raw.store {
                Some(url) => Some(self.store_url(&url)?),
                None => None,
            },
            max_concurrent_workflows: count(
                "max_concurrent_workflows",
                raw.max_concurrent_workflows,
                d.max_concurrent_workflows as u32,
                1,
            )? as usize,
            max_concurrent_steps: count(
                "max_concurrent_steps",
                raw.max_concurrent_steps,
                d.max_concurrent_steps as u32,
                1,
            )? as usize,
            resources: match raw.resources {
                Some(r) => ResourceLimits {
                    cpu: match r.cpu {
                        Some(c) if c.is_finite() && c > 0.0 => c,
                        Some(_) => {
                            return Err(self.invalid(
                                "orchestrator.resources.cpu",
                                "must be a number of CPUs more than 0",
                            ));
                        }
                        None => d.resources.cpu,
                    },
                    memory_mb: r.memory_mb.unwrap_or(d.resources.memory_mb),
                },
                None => d.resources,
            },
            lease_ttl: secs("lease_ttl", raw.lease_ttl, d.lease_ttl)?,
            resource_sample_interval: secs(
                "resource_sample_interval",
                raw.resource_sample_interval,
                d.resource_sample_interval,
            )?,
            resource_history: secs("resource_history", raw.resource_history, d.resource_history)?,
            resource_history_step: secs(
                "resource_history_step",
                raw.resource_history_step,
                d.resource_history_step,
            )?,
            discovery: self.discovery(raw.discovery)?,
        })
    }

    /// `orchestrator.store`: expanded, relative SQLite paths made relative to the config file,
    /// and kept as a secret since a PostgreSQL URL may carry a password.
    fn store_url(&self, raw: &str) -> Result<Secret, ConfigError> {
        const AT: &str = "orchestrator.store";
        let url = self.expand(AT, raw)?.value;
        if let Some(path) = url.strip_prefix("sqlite://") {
            let (path, query) = path
                .split_once('?')
                .map_or((path, None), |(p, q)| (p, Some(q)));
            if path.is_empty() {
                return Err(self.invalid(AT, "`sqlite://` needs a file path"));
            }
            let path = self.relative_to_file(path);
            let query = query.map(|q| format!("?{q}")).unwrap_or_default();
            return Ok(Secret::new(format!("sqlite://{}{query}", path.display())));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Secret::new(url));
        }
        Err(self.invalid(
            AT,
            "expected `sqlite://PATH` or `postgres://USER@HOST/DB` (the URL is not shown: it may hold a password)",
        ))
    }
}
