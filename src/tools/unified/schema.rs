//! Input and output schemas of the unified tools: the shapes' own schemas (`mcp-tool-shapes`, the
//! types the vendor servers decode and answer with), plus the routing controls in the input and
//! the routing record in the output, which only the orchestrator knows about.

use std::sync::Arc;

use mcp_tool_shapes::{
    Shape, chat::Chat, embed::Embed, input_schema, models::ListModels, output_schema,
    search::SearchWeb, weather::GetWeather,
};
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Value, json};

use super::UnifiedTool;

/// Arguments every unified tool takes besides its own.
fn controls(vendors: &[String]) -> JsonObject {
    let controls = json!({
        "vendor": {"type": "string", "enum": vendors, "description": "Use this vendor first (default: the configured order)."},
        "fallback": {"type": "boolean", "default": true, "description": "Try the next vendor when this one fails for a reason that is not the request's fault."},
        "timeout_ms": {"type": "integer", "minimum": 1, "description": "Deadline for the whole request, fallbacks included."}
    });
    match controls {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

/// What every unified result carries about how it was served (`report::Routing`).
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

/// The input and output schemas of `tool` as the vendor servers advertise them.
fn shape_schemas(tool: UnifiedTool) -> (JsonObject, JsonObject) {
    fn of<S: Shape>() -> (JsonObject, JsonObject) {
        (input_schema::<S>(), output_schema::<S>())
    }
    match tool {
        UnifiedTool::Chat => of::<Chat>(),
        UnifiedTool::Embed => of::<Embed>(),
        UnifiedTool::SearchWeb => of::<SearchWeb>(),
        UnifiedTool::GetWeather => of::<GetWeather>(),
        UnifiedTool::ListModels => of::<ListModels>(),
    }
}

/// Adds `more` to the `properties` of `schema` (a shape without arguments may have none).
fn add_properties(schema: &mut JsonObject, more: JsonObject) {
    match schema.entry("properties").or_insert_with(|| json!({})) {
        Value::Object(properties) => properties.extend(more),
        other => *other = Value::Object(more),
    }
}

/// The tool definition the host sees for `tool`, offered by `vendors`.
pub fn definition(tool: UnifiedTool, vendors: &[String]) -> Tool {
    let (mut input, mut output) = shape_schemas(tool);
    add_properties(&mut input, controls(vendors));
    let mut routing = JsonObject::new();
    routing.insert("routing".into(), routing_schema());
    add_properties(&mut output, routing);
    // Only the routing record is certain: the answer of a server without structured content
    // reaches the host as `{text, routing}` (see `unified::finish`), so the shape's own fields
    // are described but not required.
    output.insert("required".into(), json!(["routing"]));
    let description = format!(
        "{} Served by the first vendor that works, in this order: {}. Pass `vendor` to choose one; the result says which vendor answered and why any fallback happened.",
        tool.summary(),
        vendors.join(", ")
    );
    let mut annotations = ToolAnnotations::default();
    annotations.read_only_hint = Some(true);
    annotations.open_world_hint = Some(true);
    Tool::new(tool.name(), description, Arc::new(input))
        .with_raw_output_schema(Arc::new(output))
        .annotate(annotations)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default config's chain of `tool`: realistic vendor names in the `vendor` enum.
    fn chain(tool: UnifiedTool) -> Vec<String> {
        let vendors: &[&str] = match tool {
            UnifiedTool::Chat | UnifiedTool::ListModels => &["openai", "groq", "local_llama"],
            UnifiedTool::Embed => &["openai", "local_llama"],
            UnifiedTool::SearchWeb => &["brave", "tavily", "searxng"],
            UnifiedTool::GetWeather => &["open_meteo", "openweathermap"],
        };
        vendors.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn the_tools_are_named_as_their_shapes() {
        let names = [
            Chat::NAME,
            Embed::NAME,
            SearchWeb::NAME,
            GetWeather::NAME,
            ListModels::NAME,
        ];
        assert_eq!(UnifiedTool::ALL.map(UnifiedTool::name), names);
    }

    #[test]
    fn search_web_advertises_the_limit_the_vendors_enforce() {
        let tool = definition(UnifiedTool::SearchWeb, &chain(UnifiedTool::SearchWeb));
        let n = &tool.input_schema["properties"]["num_results"];
        assert_eq!(n["maximum"], mcp_tool_shapes::search::MAX_RESULTS);
        assert_eq!(n["minimum"], mcp_tool_shapes::search::MIN_RESULTS);
    }

    #[test]
    fn unified_definitions_snapshot() {
        for tool in UnifiedTool::ALL {
            insta::assert_json_snapshot!(tool.name(), definition(tool, &chain(tool)));
        }
    }
}
