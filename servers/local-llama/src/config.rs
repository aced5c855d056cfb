//! The server's environment.

use std::{num::NonZeroU32, path::PathBuf};

use mcp_server_kit::env::{self, ConfigError};

/// What the server loads and how it runs it.
#[derive(Debug, Clone)]
pub struct Config {
    /// The GGUF model for chat (and embeddings, unless `embed_model_path` is set): `MODEL_PATH`.
    pub model_path: PathBuf,
    /// A separate GGUF model for embeddings: `EMBED_MODEL_PATH`.
    pub embed_model_path: Option<PathBuf>,
    /// CPU threads for llama.cpp: `LLAMA_THREADS` (default: all available cores).
    pub threads: i32,
    /// Context window in tokens (prompt plus reply): `LLAMA_CTX_SIZE` (default 2048).
    pub ctx_size: NonZeroU32,
    /// A chat template overriding the model's: `LLAMA_CHAT_TEMPLATE` (a llama.cpp built-in name
    /// such as `gemma` or `chatml`).
    pub chat_template: Option<String>,
    /// Reply length when the caller gives no `max_tokens`: `LLAMA_MAX_TOKENS` (default 256).
    pub default_max_tokens: u32,
}

fn number<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match env::optional(name) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("'{raw}' is not a positive whole number"),
        }),
    }
}

impl Config {
    /// Reads the configuration.
    pub fn from_env() -> Result<Self, ConfigError> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads: i32 = number("LLAMA_THREADS", i32::try_from(cores).unwrap_or(2))?;
        if threads < 1 {
            return Err(ConfigError::Invalid {
                name: "LLAMA_THREADS",
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            model_path: env::required("MODEL_PATH")?.into(),
            embed_model_path: env::optional("EMBED_MODEL_PATH").map(PathBuf::from),
            threads,
            ctx_size: number("LLAMA_CTX_SIZE", NonZeroU32::new(2048).expect("non-zero"))?,
            chat_template: env::optional("LLAMA_CHAT_TEMPLATE"),
            default_max_tokens: number("LLAMA_MAX_TOKENS", 256)?,
        })
    }
}
