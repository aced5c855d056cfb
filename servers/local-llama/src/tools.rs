//! The MCP tools of local_llama on top of the [`Engine`].

use std::sync::Arc;

use mcp_server_kit::{
    CallError, ErrorKind, ToolServer, VendorError,
    shapes::{
        ChatArgs, ChatOutput, EmbedArgs, EmbedOutput, ListModelsArgs, ListModelsOutput, ModelEntry,
        Usage,
    },
};

use crate::engine::{ChatRequest, Engine};

const VENDOR: &str = "local_llama";

/// A `model` argument must name the loaded model (or be absent): one model is served.
fn check_model(asked: Option<&str>, loaded: &str) -> Result<(), CallError> {
    match asked {
        Some(m) if m != loaded => Err(VendorError::new(
            ErrorKind::NotFound,
            format!("model '{m}' not found: local_llama serves only '{loaded}'"),
        )
        .into()),
        _ => Ok(()),
    }
}

async fn chat(
    engine: &Engine,
    default_max_tokens: u32,
    args: ChatArgs,
) -> Result<ChatOutput, CallError> {
    let conversation = args.conversation()?;
    check_model(args.model.as_deref(), &engine.info.chat_model)?;
    let request = ChatRequest {
        messages: conversation
            .into_iter()
            .map(|m| (m.role, m.content))
            .collect(),
        // llama.cpp's samplers take f32; the shapes keep JSON's f64 so vendors get the exact value.
        temperature: args.temperature.map(|t| t as f32),
        top_p: args.top_p.map(|p| p as f32),
        max_tokens: args.max_tokens.unwrap_or(default_max_tokens),
        seed: args.seed,
        stop: args.stop.unwrap_or_default(),
    };
    let reply = engine.chat(request).await?;
    Ok(ChatOutput {
        message: reply.text,
        model: engine.info.chat_model.clone(),
        vendor: VENDOR.to_owned(),
        usage: Usage {
            prompt_tokens: Some(reply.prompt_tokens),
            completion_tokens: Some(reply.completion_tokens),
            total_tokens: Some(reply.prompt_tokens + reply.completion_tokens),
        },
        finish_reason: Some(reply.finish_reason.to_owned()),
    })
}

async fn embed(engine: &Engine, args: EmbedArgs) -> Result<EmbedOutput, CallError> {
    let texts = args.texts()?;
    check_model(args.model.as_deref(), &engine.info.embed_model)?;
    let dimensions = engine.info.dimensions;
    if let Some(d) = args.dimensions
        && d as usize != dimensions
    {
        return Err(VendorError::new(
            ErrorKind::BadRequest,
            format!("local_llama returns {dimensions}-dimensional vectors; dimensions={d} is not supported"),
        )
        .into());
    }
    let embeddings = engine.embed(texts).await?;
    Ok(EmbedOutput {
        embeddings,
        model: engine.info.embed_model.clone(),
        dimensions,
        vendor: VENDOR.to_owned(),
    })
}

/// The `local_llama` MCP server; `default_max_tokens` bounds replies when the caller gives no
/// `max_tokens`.
pub fn server(engine: Engine, default_max_tokens: u32) -> ToolServer {
    let engine = Arc::new(engine);
    let (for_chat, for_embed, for_models) = (Arc::clone(&engine), Arc::clone(&engine), engine);
    ToolServer::new("mcp-local-llama", env!("CARGO_PKG_VERSION"))
        .with_instructions("A local GGUF model run in-process by llama.cpp: chat, embeddings, model list.")
        .tool(
            "chat",
            "Chat with the local model (its own chat template): `message` (plus optional `system`) or `messages`; temperature 0 is deterministic.",
            move |args: ChatArgs| {
                let engine = Arc::clone(&for_chat);
                async move { chat(&engine, default_max_tokens, args).await }
            },
        )
        .tool(
            "embed",
            "Embed one text or a list of texts with the local model: mean-pooled, unit-length vectors.",
            move |args: EmbedArgs| {
                let engine = Arc::clone(&for_embed);
                async move { embed(&engine, args).await }
            },
        )
        .tool("list_models", "The loaded model(s).", move |_: ListModelsArgs| {
            let engine = Arc::clone(&for_models);
            async move {
                let info = &engine.info;
                let mut models = vec![ModelEntry { id: info.chat_model.clone(), vendor: VENDOR.to_owned() }];
                if info.embed_model != info.chat_model {
                    models.push(ModelEntry { id: info.embed_model.clone(), vendor: VENDOR.to_owned() });
                }
                Ok(ListModelsOutput { models })
            }
        })
}
