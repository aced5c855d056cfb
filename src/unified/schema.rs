//! Input and output schemas of the unified tools (the contract's shapes plus routing controls).

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Value, json};

use super::UnifiedTool;

fn object(v: Value) -> Arc<JsonObject> {
    Arc::new(serde_json::from_value(v).unwrap_or_default())
}

/// Arguments every unified tool takes besides its own.
fn controls(vendors: &[String]) -> Value {
    json!({
        "vendor": {"type": "string", "enum": vendors, "description": "Use this vendor first (default: the configured order)."},
        "fallback": {"type": "boolean", "default": true, "description": "Try the next vendor when this one fails for a reason that is not the request's fault."},
        "timeout_ms": {"type": "integer", "minimum": 1, "description": "Deadline for the whole request, fallbacks included."}
    })
}

/// What every unified result carries about how it was served.
fn routing_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "vendor": {"type": ["string", "null"]},
            "attempts": {"type": "array", "items": {"type": "object", "properties": {
                "vendor": {"type": "string"}, "outcome": {"type": "string"},
                "error": {"type": ["string", "null"]}, "ms": {"type": "number"}}}},
            "total_ms": {"type": "number"},
            "overhead_ms": {"type": "number"},
            "cached": {"type": "boolean"}
        }
    })
}

/// The tool definition the host sees for `tool`, offered by `vendors`.
pub fn definition(tool: UnifiedTool, vendors: &[String]) -> Tool {
    let mut props = match tool {
        UnifiedTool::Chat => json!({
            "message": {"type": "string", "description": "A single user message."},
            "messages": {"type": "array", "description": "A conversation, instead of `message`.", "items": {
                "type": "object", "required": ["role", "content"],
                "properties": {"role": {"type": "string", "enum": ["system", "user", "assistant"]}, "content": {"type": "string"}}}},
            "system": {"type": "string", "description": "System prompt."},
            "model": {"type": "string"},
            "temperature": {"type": "number", "minimum": 0},
            "max_tokens": {"type": "integer", "minimum": 1}
        }),
        UnifiedTool::Embed => json!({
            "input": {"description": "Text or texts to embed.", "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "model": {"type": "string"},
            "dimensions": {"type": "integer", "minimum": 1}
        }),
        UnifiedTool::SearchWeb => json!({
            "query": {"type": "string"},
            "num_results": {"type": "integer", "minimum": 1, "maximum": 50}
        }),
        UnifiedTool::GetWeather => json!({
            "location": {"type": "string", "description": "City or place name."},
            "units": {"type": "string", "enum": ["metric", "imperial"], "default": "metric"}
        }),
        UnifiedTool::ListModels => json!({}),
    };
    if let (Value::Object(p), Value::Object(c)) = (&mut props, controls(vendors)) {
        p.extend(c);
    }
    let required: Vec<&str> = match tool {
        UnifiedTool::Embed => vec!["input"],
        UnifiedTool::SearchWeb => vec!["query"],
        UnifiedTool::GetWeather => vec!["location"],
        _ => vec![],
    };
    let output = match tool {
        UnifiedTool::Chat => {
            json!({"message": {"type": "string"}, "model": {"type": "string"}, "vendor": {"type": "string"}, "usage": {"type": "object"}, "finish_reason": {"type": ["string", "null"]}})
        }
        UnifiedTool::Embed => {
            json!({"embeddings": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}, "model": {"type": "string"}, "dimensions": {"type": "integer"}, "vendor": {"type": "string"}})
        }
        UnifiedTool::SearchWeb => {
            json!({"results": {"type": "array", "items": {"type": "object", "properties": {"title": {"type": "string"}, "url": {"type": "string"}, "snippet": {"type": "string"}}}}, "provider": {"type": "string"}})
        }
        UnifiedTool::GetWeather => {
            json!({"location": {"type": "string"}, "temperature": {"type": "number"}, "description": {"type": "string"}, "humidity": {"type": ["number", "null"]}, "wind_speed": {"type": ["number", "null"]}, "units": {"type": "string"}, "provider": {"type": "string"}})
        }
        UnifiedTool::ListModels => {
            json!({"models": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "vendor": {"type": "string"}}}}})
        }
    };
    let mut output = output;
    if let Value::Object(o) = &mut output {
        o.insert("routing".into(), routing_schema());
    }
    let description = format!(
        "{} Served by the first vendor that works, in this order: {}. Pass `vendor` to choose one; the result says which vendor answered and why any fallback happened.",
        tool.summary(),
        vendors.join(", ")
    );
    let mut annotations = ToolAnnotations::default();
    annotations.read_only_hint = Some(true);
    annotations.open_world_hint = Some(true);
    Tool::new(
        tool.name(),
        description,
        object(json!({"type": "object", "properties": props, "required": required})),
    )
    .with_raw_output_schema(object(
        json!({"type": "object", "properties": output, "required": ["routing"]}),
    ))
    .annotate(annotations)
}
