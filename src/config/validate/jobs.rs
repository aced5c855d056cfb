//! The `jobs` section: job types (exactly one of `tool`, `workflow`, `service_url` each) and the
//! worker pool's settings.

use std::time::Duration;

use serde_json::Value;

use super::Validator;
use crate::config::{
    ConfigError,
    raw::{RawJobType, RawJobs},
    types::{JobTarget, JobType, JobsConfig},
};

/// The longest a finished job may be kept: a year.
const MAX_TTL_S: f64 = 365.0 * 86_400.0;

impl Validator<'_> {
    pub(super) fn jobs(&self, raw: Option<Value>) -> Result<JobsConfig, ConfigError> {
        let Some(raw) = raw else {
            return Ok(JobsConfig::default());
        };
        let raw: RawJobs = self.parse("jobs", raw)?;
        let d = JobsConfig::default();
        let mut types = std::collections::BTreeMap::new();
        for (name, value) in raw.types {
            let at = format!("jobs.types.{name}");
            let t: RawJobType = self.parse(&at, value)?;
            types.insert(name, self.job_type(&at, t)?);
        }
        let max_concurrent = match raw.max_concurrent {
            Some(0) => {
                return Err(self.invalid("jobs.max_concurrent", "must be at least 1"));
            }
            Some(n) => n as usize,
            None => d.max_concurrent,
        };
        let ttl = match raw.ttl {
            Some(s) if s.is_finite() && s > 0.0 && s <= MAX_TTL_S => Duration::from_secs_f64(s),
            Some(s) => {
                return Err(self.invalid(
                    "jobs.ttl",
                    format!(
                        "{s} is not a retention: use seconds, more than 0 and at most {MAX_TTL_S}"
                    ),
                ));
            }
            None => d.ttl,
        };
        let health_interval = match raw.health_interval {
            Some(s) => self.seconds("jobs.health_interval", s)?,
            None => d.health_interval,
        };
        let artifacts_dir = match raw.artifacts_dir {
            Some(d) => Some(self.relative_to_file(&self.expand("jobs.artifacts_dir", &d)?.value)),
            None => None,
        };
        Ok(JobsConfig {
            artifacts_dir,
            types,
            max_concurrent,
            ttl,
            health_interval,
        })
    }

    fn job_type(&self, at: &str, t: RawJobType) -> Result<JobType, ConfigError> {
        let target = match (t.tool, t.workflow, t.service_url) {
            (Some(tool), None, None) => JobTarget::Tool(tool),
            (None, Some(workflow), None) => JobTarget::Workflow(workflow),
            (None, None, Some(url)) => {
                let url = self.expand(&format!("{at}.service_url"), &url)?.value;
                let url = url.trim_end_matches('/').to_owned();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(self.invalid(
                        &format!("{at}.service_url"),
                        format!("`{url}` is not an http:// or https:// URL"),
                    ));
                }
                JobTarget::Service(url)
            }
            _ => {
                return Err(self.invalid(
                    at,
                    "a job type names exactly one of `tool`, `workflow` or `service_url`",
                ));
            }
        };
        let timeout = t
            .timeout
            .map(|s| self.seconds(&format!("{at}.timeout"), s))
            .transpose()?;
        Ok(JobType {
            target,
            timeout,
            idempotent: t.idempotent.unwrap_or(false),
            description: t.description,
        })
    }
}
