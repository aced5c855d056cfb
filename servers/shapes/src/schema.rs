//! JSON schemas of the shapes, as a tool definition carries them.

use schemars::{JsonSchema, generate::SchemaSettings};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

/// One of the unified tools: its name and the types of its arguments and result.
pub trait Shape {
    /// The tool's name, the same on every server that offers it.
    const NAME: &'static str;
    /// What a call passes.
    type Args: Serialize + DeserializeOwned + JsonSchema;
    /// What a successful call answers, as `structuredContent`.
    type Output: Serialize + DeserializeOwned + JsonSchema;
}

/// The schema of `S`'s arguments: what they may be decoded from, so optional fields are not
/// required. Sub-schemas are inlined (no `$defs`), which keeps each property readable on its
/// own for hosts and models, and lets a caller add properties without minding references.
pub fn input_schema<S: Shape>() -> Map<String, Value> {
    root::<S::Args>(SchemaSettings::draft2020_12())
}

/// The schema of `S`'s result: what it serialises to, so a field that is always written is
/// required even when it may be `null`.
pub fn output_schema<S: Shape>() -> Map<String, Value> {
    root::<S::Output>(SchemaSettings::draft2020_12().for_serialize())
}

fn root<T: JsonSchema>(mut settings: SchemaSettings) -> Map<String, Value> {
    settings.inline_subschemas = true;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut object = match schema.to_value() {
        Value::Object(object) => object,
        // Every shape is a struct, whose schema is an object; this is a bool schema, which no
        // shape has. An empty schema accepts anything rather than panicking in a server.
        _ => Map::new(),
    };
    // The Rust type's name and doc comment describe the type, not the tool; the tool's own
    // description says what a host needs.
    // (`retain` rather than `remove`: it keeps the other keys in the order schemars wrote them.)
    object.retain(|key, _| key != "title" && key != "description");
    object
}
