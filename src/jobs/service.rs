//! The external service contract (seed `000`): `POST {url}/execute` with
//! `{"job_id", "type", "payload", "metadata"}`, answered by `{"status": "completed"|"failed",
//! "result", "artifacts": […]}`; `GET {url}/health`. Every failure (down, slow, an error status,
//! an answer outside the contract) becomes a message that says what happened and what to do.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::{artifacts::NewArtifact, report::ArtifactKind};

/// How much of a bad answer a message quotes.
const QUOTE: usize = 200;
/// A health check's bound.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// What one execution ended with.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The service completed the job.
    Completed {
        result: Value,
        artifacts: Vec<ServiceArtifact>,
    },
    /// The service says the job failed (its `error` or `result` tells why).
    Failed {
        error: String,
        artifacts: Vec<ServiceArtifact>,
    },
}

/// An artifact as a service lists it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServiceArtifact {
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub storage_location: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub service_id: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<u64>,
    #[serde(default)]
    pub checksum: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub metadata: Option<Value>,
}

impl ServiceArtifact {
    /// As an artifact to register, with the job's provenance.
    pub fn into_new(self, job_id: &str, service: &str, inputs: &[String]) -> NewArtifact {
        NewArtifact {
            name: self.name,
            kind: Some(
                self.kind
                    .as_deref()
                    .and_then(ArtifactKind::parse)
                    .unwrap_or(ArtifactKind::Other),
            ),
            description: self.description,
            storage_location: self.storage_location,
            checksum: self.checksum,
            size_bytes: self.size_bytes,
            tags: self.tags,
            metadata: self.metadata,
            job_id: Some(job_id.to_owned()),
            service_id: Some(self.service_id.unwrap_or_else(|| service.to_owned())),
            dependencies: inputs.to_vec(),
            ..NewArtifact::default()
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    artifacts: Vec<ServiceArtifact>,
}

/// One job's request.
pub struct Execute<'a> {
    pub url: &'a str,
    pub job_id: &'a str,
    pub job_type: &'a str,
    pub payload: &'a Value,
    pub metadata: &'a Value,
    pub timeout: Duration,
}

/// Runs one execution; `Err` is a message for the job's `error`.
pub async fn execute(client: &reqwest::Client, x: Execute<'_>) -> Result<Outcome, String> {
    let endpoint = format!("{}/execute", x.url);
    // Messages name the endpoint without the URL's credentials.
    let shown = crate::secrets::shown_url(&endpoint);
    let body = json!({
        "job_id": x.job_id,
        "type": x.job_type,
        "payload": x.payload,
        "metadata": x.metadata,
    });
    let send = client
        .post(&endpoint)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .timeout(x.timeout)
        .send();
    let response = send
        .await
        .map_err(|e| transport_error(&shown, x.timeout, &e))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| transport_error(&shown, x.timeout, &e))?;
    if !status.is_success() {
        return Err(format!(
            "service {shown} answered HTTP {status}: {}",
            quote(&bytes)
        ));
    }
    parse(&shown, &bytes)
}

/// The answer's meaning, or what is wrong with it.
pub fn parse(endpoint: &str, bytes: &[u8]) -> Result<Outcome, String> {
    let answer: Answer = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "service {endpoint} answered outside the execute contract ({e}): {}",
            quote(bytes)
        )
    })?;
    match answer.status.as_str() {
        "completed" => Ok(Outcome::Completed {
            result: answer.result.unwrap_or(Value::Null),
            artifacts: answer.artifacts,
        }),
        "failed" => {
            let error = answer
                .error
                .or(answer.result)
                .map(|e| match e {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .unwrap_or_else(|| "no reason given".into());
            Ok(Outcome::Failed {
                error: format!("service {endpoint} reports the job failed: {error}"),
                artifacts: answer.artifacts,
            })
        }
        other => Err(format!(
            "service {endpoint} answered status `{other}`; the contract allows `completed` or `failed`"
        )),
    }
}

/// `GET {url}/health`: `Ok` on a 2xx answer, else what went wrong.
pub async fn health(client: &reqwest::Client, url: &str) -> Result<(), String> {
    let endpoint = format!("{url}/health");
    let shown = crate::secrets::shown_url(&endpoint);
    let response = client
        .get(&endpoint)
        .timeout(HEALTH_TIMEOUT)
        .send()
        .await
        .map_err(|e| transport_error(&shown, HEALTH_TIMEOUT, &e))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("{shown} answered HTTP {}", response.status()))
    }
}

fn transport_error(endpoint: &str, timeout: Duration, e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!(
            "service {endpoint} did not answer within {:.0} s (raise the job type's `timeout` if it needs longer)",
            timeout.as_secs_f64()
        )
    } else if e.is_connect() {
        format!(
            "service {endpoint} is unreachable ({}); is it running? `services list` shows its health",
            root_cause(e)
        )
    } else {
        format!("service {endpoint} failed: {}", root_cause(e))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut q: String = text.chars().take(QUOTE).collect();
    if text.chars().count() > QUOTE {
        q.push('…');
    }
    format!("{q:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_inside_and_outside_the_contract() {
        let ok = parse(
            "s",
            br#"{"status":"completed","result":{"acc":0.9},"artifacts":[{"name":"m","type":"model","storage_location":"/m"}]}"#,
        )
        .unwrap();
        let Outcome::Completed { result, artifacts } = ok else {
            panic!("completed")
        };
        assert_eq!(result["acc"], 0.9);
        assert_eq!(artifacts[0].kind.as_deref(), Some("model"));
        let failed = parse("s", br#"{"status":"failed","error":"diverged"}"#).unwrap();
        assert!(
            matches!(failed, Outcome::Failed { error, .. } if error.ends_with("failed: diverged"))
        );
        let e = parse("http://x/execute", b"<html>oops</html>").unwrap_err();
        assert!(
            e.starts_with("service http://x/execute answered outside the execute contract"),
            "{e}"
        );
        assert!(e.contains("<html>oops</html>"), "{e}");
        let e = parse("s", br#"{"status":"done"}"#).unwrap_err();
        assert!(e.contains("`done`"), "{e}");
    }
}
