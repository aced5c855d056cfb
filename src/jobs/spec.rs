//! A submission in any of the three shapes of the contract, resolved against the configured job
//! types into what the store keeps, and a payload checked against its tool's input schema.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::JobError;
use crate::{config::JobsConfig, report::JobKind};

/// A submission as a caller writes it: `{"type", "payload", "metadata"}`,
/// `{"tool", "arguments"}` or `{"workflow", "input"}`, each with optional `priority` and `ttl`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// A configured job type.
    #[serde(rename = "type")]
    pub job_type: Option<String>,
    /// The payload of a typed job.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    /// A host-facing tool to call.
    pub tool: Option<String>,
    /// Its arguments.
    #[schema(value_type = Option<Object>)]
    pub arguments: Option<Value>,
    /// A workflow to run.
    pub workflow: Option<String>,
    /// Its input.
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
    /// Free metadata, stored and passed to services.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Higher runs first (default 0).
    pub priority: Option<i64>,
    /// Seconds the finished job is kept (default: `jobs.ttl`).
    pub ttl: Option<f64>,
}

/// A submission resolved: what runs, with what.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub kind: JobKind,
    pub job_type: Option<String>,
    pub target: String,
    pub payload: Value,
    pub metadata: Value,
    pub priority: i64,
    pub ttl_ms: i64,
}

impl Submission {
    /// Parses a submission from a tool's or the REST API's JSON.
    pub fn from_json(value: Value) -> Result<Self, JobError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let at = e.path().to_string();
            JobError::Invalid(if at == "." {
                e.inner().to_string()
            } else {
                format!("{at}: {}", e.inner())
            })
        })
    }

    /// Resolves the shape against the configured types.
    pub fn resolve(self, config: &JobsConfig) -> Result<Resolved, JobError> {
        let object = |v: Option<Value>, what: &str| -> Result<Value, JobError> {
            match v {
                None => Ok(Value::Object(Map::new())),
                Some(v @ Value::Object(_)) => Ok(v),
                Some(_) => Err(JobError::Invalid(format!("`{what}` must be a JSON object"))),
            }
        };
        let (kind, job_type, target, payload) = match (self.job_type, self.tool, self.workflow) {
            (Some(t), None, None) => {
                if self.arguments.is_some() || self.input.is_some() {
                    return Err(JobError::Invalid(
                        "a typed job takes `payload`, not `arguments` or `input`".into(),
                    ));
                }
                let Some(spec) = config.types.get(&t) else {
                    return Err(JobError::UnknownType {
                        name: t,
                        known: config.types.keys().cloned().collect(),
                    });
                };
                let (kind, target) = spec.target.shown();
                (kind, Some(t), target, object(self.payload, "payload")?)
            }
            (None, Some(tool), None) => {
                if self.payload.is_some() || self.input.is_some() {
                    return Err(JobError::Invalid(
                        "a tool job takes `arguments`, not `payload` or `input`".into(),
                    ));
                }
                (
                    JobKind::Tool,
                    None,
                    tool,
                    object(self.arguments, "arguments")?,
                )
            }
            (None, None, Some(workflow)) => {
                if self.payload.is_some() || self.arguments.is_some() {
                    return Err(JobError::Invalid(
                        "a workflow job takes `input`, not `payload` or `arguments`".into(),
                    ));
                }
                (
                    JobKind::Workflow,
                    None,
                    workflow,
                    object(self.input, "input")?,
                )
            }
            _ => {
                return Err(JobError::Invalid(
                        "a job names exactly one of `type` (with `payload`), `tool` (with `arguments`) or `workflow` (with `input`)".into(),
                    ));
            }
        };
        let ttl_ms = match self.ttl {
            Some(s) if s.is_finite() && s > 0.0 => (s * 1000.0) as i64,
            Some(s) => {
                return Err(JobError::Invalid(format!(
                    "`ttl` must be a positive number of seconds, not {s}"
                )));
            }
            None => i64::try_from(config.ttl.as_millis()).unwrap_or(i64::MAX / 4),
        };
        Ok(Resolved {
            kind,
            job_type,
            target,
            payload,
            metadata: object(self.metadata, "metadata")?,
            priority: self.priority.unwrap_or(0),
            ttl_ms,
        })
    }
}

/// Checks arguments against what a tool's input schema says at its top level: an object, its
/// `required` keys, and the JSON type of each given property that declares one. Deeper rules
/// are the tool's to check when it is called.
pub fn check_arguments(
    tool: &str,
    schema: &Map<String, Value>,
    args: &Value,
) -> Result<(), JobError> {
    let invalid = |message: String| JobError::Arguments {
        tool: tool.to_owned(),
        message,
    };
    let Some(object) = args.as_object() else {
        return Err(invalid("the arguments must be a JSON object".into()));
    };
    let missing: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|k| !object.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(invalid(format!("missing required {}", missing.join(", "))));
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (key, value) in object {
        let Some(want) = properties
            .and_then(|p| p.get(key))
            .and_then(|p| p.get("type"))
        else {
            continue;
        };
        let fits = |t: &str| match t {
            "string" => value.is_string(),
            "number" => value.is_number(),
            "integer" => value.is_i64() || value.is_u64(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            "null" => value.is_null(),
            _ => true,
        };
        let ok = match want {
            Value::String(t) => fits(t),
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(fits),
            _ => true,
        };
        if !ok {
            return Err(invalid(format!(
                "`{key}` must be of type {want}, not {value}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::config::{JobTarget, JobType};

    fn config() -> JobsConfig {
        let mut c = JobsConfig::default();
        c.types.insert(
            "ml".into(),
            JobType {
                target: JobTarget::Service("http://127.0.0.1:9".into()),
                timeout: None,
                idempotent: false,
                description: None,
            },
        );
        c.ttl = Duration::from_secs(60);
        c
    }

    fn resolve(v: Value) -> Result<Resolved, JobError> {
        Submission::from_json(v)?.resolve(&config())
    }

    #[test]
    fn the_three_shapes_resolve() {
        let typed = resolve(json!({"type": "ml", "payload": {"lr": 0.1}, "priority": 3})).unwrap();
        assert_eq!(typed.kind, JobKind::Service);
        assert_eq!(typed.target, "http://127.0.0.1:9");
        assert_eq!(typed.priority, 3);
        assert_eq!(typed.ttl_ms, 60_000);
        let tool = resolve(json!({"tool": "fixture__echo", "arguments": {"text": "x"}, "ttl": 5}))
            .unwrap();
        assert_eq!((tool.kind, tool.ttl_ms), (JobKind::Tool, 5_000));
        let wf = resolve(json!({"workflow": "w", "input": {}})).unwrap();
        assert_eq!(wf.kind, JobKind::Workflow);
    }

    #[test]
    fn bad_submissions_say_what_is_wrong() {
        let e = resolve(json!({"type": "nope"})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown job type `nope` (configured: ml); `services list` shows the job types"
        );
        let e = resolve(json!({"tool": "t", "workflow": "w"})).unwrap_err();
        assert!(e.to_string().contains("exactly one of"), "{e}");
        let e = resolve(json!({"tool": "t", "argumnets": {}})).unwrap_err();
        assert!(e.to_string().contains("unknown field `argumnets`"), "{e}");
        let e = resolve(json!({"tool": "t", "arguments": [1]})).unwrap_err();
        assert!(
            e.to_string().contains("`arguments` must be a JSON object"),
            "{e}"
        );
    }

    #[test]
    fn arguments_are_checked_against_the_top_of_the_schema() {
        let schema = json!({"type": "object", "required": ["text"],
            "properties": {"text": {"type": "string"}, "n": {"type": ["integer", "null"]}}});
        let schema = schema.as_object().unwrap();
        check_arguments("t", schema, &json!({"text": "a", "n": 2})).unwrap();
        let e = check_arguments("t", schema, &json!({"n": 2})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid arguments for tool `t`: missing required text"
        );
        let e = check_arguments("t", schema, &json!({"text": 1})).unwrap_err();
        assert!(
            e.to_string().contains("`text` must be of type \"string\""),
            "{e}"
        );
    }
}
