//! The argument and result types of the unified tools, and their limits, defined once.
//!
//! Three places speak these tools: the vendor servers (`mcp-server-kit` and the servers built
//! on it) decode the arguments and answer with the results; the orchestrator advertises the
//! tools to hosts with schemas derived from these types; and its client SDK builds the
//! arguments. Each used to carry its own copy, and the copies drifted (the orchestrator
//! advertised 50 search results where the vendors accept 20). A limit such as
//! [`search::MAX_RESULTS`] is a const here, read both by the schema attribute and by the
//! validation, so the advertised schema and the checked one cannot differ.
//!
//! One module per tool, each with a [`Shape`] naming the tool and its two types:
//! [`chat`], [`embed`], [`search`], [`weather`], [`models`]. [`input_schema`] and
//! [`output_schema`] turn a shape into the JSON schemas a tool definition carries.

pub mod chat;
pub mod embed;
mod error;
pub mod models;
mod schema;
pub mod search;
pub mod weather;

pub use chat::{ChatArgs, ChatMessage, ChatOutput, Usage};
pub use embed::{EmbedArgs, EmbedInput, EmbedOutput};
pub use error::InvalidArgs;
pub use models::{ListModelsArgs, ListModelsOutput, ModelEntry};
pub use schema::{Shape, input_schema, output_schema};
pub use search::{SearchArgs, SearchHit, SearchOutput};
pub use weather::{Units, WeatherArgs, WeatherOutput};
