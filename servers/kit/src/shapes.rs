//! Arguments and results of the tools every vendor of a kind shares (see CONTRACT.md, "The
//! vendor servers"), so the router can route one tool to any of them.

mod chat;
mod embed;
mod models;
mod search;
mod weather;

pub use chat::{ChatArgs, ChatMessage, ChatOutput, Usage};
pub use embed::{EmbedArgs, EmbedInput, EmbedOutput};
pub use models::{ListModelsArgs, ListModelsOutput, ModelEntry};
pub use search::{SearchArgs, SearchHit, SearchOutput};
pub use weather::{Units, WeatherArgs, WeatherOutput};
