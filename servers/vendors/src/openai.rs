//! The `openai` server: chat, embed and list_models on the OpenAI API or any compatible one.

use std::sync::Arc;

use mcp_server_kit::{
    Api, HttpSettings, ToolServer,
    env::{self, ConfigError},
    shapes::{ChatArgs, EmbedArgs, ListModelsArgs},
};

use crate::llm::{Dialect, OpenAiCompat};

/// The OpenAI-compatible client configured from `OPENAI_API_KEY`, `OPENAI_BASE_URL`,
/// `OPENAI_CHAT_MODEL` and `OPENAI_EMBED_MODEL`.
fn client(http: &HttpSettings) -> Result<OpenAiCompat, ConfigError> {
    let key = env::secret("OPENAI_API_KEY")?;
    Ok(OpenAiCompat {
        api: Api::new(http, "OpenAI").with_key("OPENAI_API_KEY", key),
        base_url: env::base_url("OPENAI_BASE_URL", "https://api.openai.com/v1")?,
        vendor: "openai",
        dialect: Dialect::OpenAi,
        chat_model: env::optional("OPENAI_CHAT_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
        embed_model: env::optional("OPENAI_EMBED_MODEL")
            .unwrap_or_else(|| "text-embedding-3-small".into()),
    })
}

/// The `openai` MCP server.
pub fn server(http: &HttpSettings) -> Result<ToolServer, ConfigError> {
    let api = Arc::new(client(http)?);
    let (chat, embed, models) = (Arc::clone(&api), Arc::clone(&api), api);
    Ok(ToolServer::new("mcp-vendor-openai", env!("CARGO_PKG_VERSION"))
        .with_instructions("OpenAI (or an OpenAI-compatible API): chat completions, embeddings, model list.")
        .tool(
            "chat",
            "Chat completion: send `message` (plus optional `system`) or a `messages` list; returns the reply, model, usage and finish reason.",
            move |args: ChatArgs| {
                let api = Arc::clone(&chat);
                async move { api.chat(args).await }
            },
        )
        .tool(
            "embed",
            "Embed one text or a list of texts; returns one vector per text.",
            move |args: EmbedArgs| {
                let api = Arc::clone(&embed);
                async move { api.embed(args).await }
            },
        )
        .tool("list_models", "List the models the API offers.", move |_: ListModelsArgs| {
            let api = Arc::clone(&models);
            async move { Ok(api.list_models().await?) }
        }))
}
