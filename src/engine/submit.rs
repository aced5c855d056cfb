//! Storing a new run: checked against its input schema, pinned to its definition's sha256.

use serde_json::Value;

use super::{EngineError, ms};
use crate::{
    store::{Lease, NewDefinition, NewRun, Store},
    workflow::Definition,
};

/// Stores a run of `def` for a later worker, without an engine: `workflow run --detach` when no
/// instance runs. The next `serve` on the store picks it up.
pub async fn enqueue(
    store: &Store,
    def: &Definition,
    input: &Value,
    priority: i64,
    now: i64,
) -> Result<String, EngineError> {
    check_input(def, input)?;
    store.put_definition(&stored(def)).await?;
    Ok(create_run(store, None, def, input, priority, now, None)
        .await?
        .0)
}

/// A definition as the store keeps it.
pub(super) fn stored(def: &Definition) -> NewDefinition<'_> {
    NewDefinition {
        sha256: &def.sha256,
        name: &def.name,
        version: &def.version,
        body: &def.body,
    }
}

/// Stores the run under `id` (a new UUID when `None`), and with `claim`, its lease for that
/// owner until that time.
pub(super) async fn create_run(
    store: &Store,
    id: Option<String>,
    def: &Definition,
    input: &Value,
    priority: i64,
    now: i64,
    claim: Option<(&str, i64)>,
) -> Result<(String, Option<Lease>), EngineError> {
    let id = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let steps: Vec<&str> = def.steps.iter().map(|s| s.name.as_str()).collect();
    let lease = store
        .create_run(&NewRun {
            id: &id,
            workflow: &def.name,
            definition_sha: &def.sha256,
            input,
            priority,
            deadline_at: def.timeout.map(|t| now + ms(t)),
            steps: &steps,
            now,
            claim,
        })
        .await?;
    Ok((id, lease))
}

/// Checks what the `input` schema's `type: object` and `required` demand; the child validates
/// the rest when it is called.
pub(super) fn check_input(def: &Definition, input: &Value) -> Result<(), EngineError> {
    let Some(schema) = &def.input_schema else {
        return Ok(());
    };
    let invalid = |message: String| EngineError::InvalidInput {
        workflow: def.name.clone(),
        message,
    };
    let Some(object) = input.as_object() else {
        return Err(invalid("the input must be a JSON object".into()));
    };
    let required = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let missing: Vec<&str> = required.filter(|k| !object.contains_key(*k)).collect();
    if !missing.is_empty() {
        return Err(invalid(format!("missing {}", missing.join(", "))));
    }
    Ok(())
}
