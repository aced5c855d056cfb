//! The `groq` server: chat and list_models on Groq's OpenAI-compatible API (Groq has no
//! embeddings endpoint).

use std::sync::Arc;

use mcp_server_kit::{
    Api, HttpSettings, ToolServer,
    env::{self, ConfigError},
    shapes::{ChatArgs, ListModelsArgs},
};

use crate::llm::{Dialect, OpenAiCompat};

/// The client configured from `GROQ_API_KEY`, `GROQ_BASE_URL` and `GROQ_CHAT_MODEL`.
fn client(http: &HttpSettings) -> Result<OpenAiCompat, ConfigError> {
    let key = env::secret("GROQ_API_KEY")?;
    Ok(OpenAiCompat {
        api: Api::new(http, "Groq").with_key("GROQ_API_KEY", key),
        base_url: env::base_url("GROQ_BASE_URL", "https://api.groq.com/openai/v1")?,
        vendor: "groq",
        dialect: Dialect::Groq,
        chat_model: env::optional("GROQ_CHAT_MODEL")
            .unwrap_or_else(|| "llama-3.3-70b-versatile".into()),
        embed_model: String::new(),
    })
}

/// The `groq` MCP server.
pub fn server(http: &HttpSettings) -> Result<ToolServer, ConfigError> {
    let api = Arc::new(client(http)?);
    let (chat, models) = (Arc::clone(&api), api);
    Ok(ToolServer::new("mcp-vendor-groq", env!("CARGO_PKG_VERSION"))
        .with_instructions("Groq chat completions (OpenAI-compatible) and model list.")
        .tool(
            "chat",
            "Chat completion on Groq: send `message` (plus optional `system`) or a `messages` list; returns the reply, model, usage and finish reason.",
            move |args: ChatArgs| {
                let api = Arc::clone(&chat);
                async move { api.chat(args).await }
            },
        )
        .tool("list_models", "List the models Groq offers.", move |_: ListModelsArgs| {
            let api = Arc::clone(&models);
            async move { Ok(api.list_models().await?) }
        }))
}
