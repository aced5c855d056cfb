//! The model worker: one thread owns llama.cpp (backend, models, contexts) and serves a queue of
//! jobs one at a time, so concurrent tool calls wait their turn instead of racing on a context.

mod chat;
mod embed;
mod load;
mod template;

use std::{path::Path, sync::mpsc, thread, time::Instant};

use llama_cpp_2::{
    context::params::{LlamaContextParams, LlamaPoolingType},
    llama_backend::LlamaBackend,
};
use mcp_server_kit::{ErrorKind, VendorError};
use tokio::sync::oneshot;

pub use chat::{ChatReply, ChatRequest};
pub use load::LoadError;

use crate::config::Config;

/// What the worker loaded.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// The chat model's id (its file name without `.gguf`).
    pub chat_model: String,
    /// The embedding model's id (the chat model's unless `EMBED_MODEL_PATH` is set).
    pub embed_model: String,
    /// Length of the embedding vectors.
    pub dimensions: usize,
}

enum Job {
    Chat(ChatRequest, oneshot::Sender<Result<ChatReply, VendorError>>),
    Embed(
        Vec<String>,
        oneshot::Sender<Result<Vec<Vec<f32>>, VendorError>>,
    ),
}

/// Handle to the model worker; cheap to share behind an `Arc`.
pub struct Engine {
    jobs: mpsc::Sender<Job>,
    /// What the worker loaded.
    pub info: ModelInfo,
}

/// The id under which a model file is listed: its file name without the extension.
pub fn model_id(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

impl Engine {
    /// Starts the worker and waits until the model(s) are loaded, or fails with a message
    /// naming the file.
    pub fn start(config: &Config) -> Result<Self, LoadError> {
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (jobs, queue) = mpsc::channel();
        let config = config.clone();
        thread::Builder::new()
            .name("llama-worker".into())
            .spawn(move || worker(&config, &ready_tx, &queue))
            .map_err(|e| LoadError::Worker(e.to_string()))?;
        let info = ready_rx
            .recv()
            .map_err(|_| LoadError::Worker("the model worker stopped while loading".into()))??;
        Ok(Self { jobs, info })
    }

    /// Generates a chat reply (queued behind earlier jobs).
    pub async fn chat(&self, request: ChatRequest) -> Result<ChatReply, VendorError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Chat(request, tx))?;
        rx.await.map_err(|_| worker_gone())?
    }

    /// Embeds `texts` (queued behind earlier jobs).
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, VendorError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Embed(texts, tx))?;
        rx.await.map_err(|_| worker_gone())?
    }

    fn submit(&self, job: Job) -> Result<(), VendorError> {
        self.jobs.send(job).map_err(|_| worker_gone())
    }
}

fn worker_gone() -> VendorError {
    VendorError::new(
        ErrorKind::Unavailable,
        "the local model worker stopped; restart local_llama",
    )
    .with_retryable(false)
}

fn worker(
    config: &Config,
    ready: &mpsc::SyncSender<Result<ModelInfo, LoadError>>,
    queue: &mpsc::Receiver<Job>,
) {
    let backend = match LlamaBackend::init() {
        Ok(b) => b,
        Err(e) => {
            let _ = ready.send(Err(LoadError::Worker(format!(
                "llama.cpp failed to initialise: {e}"
            ))));
            return;
        }
    };
    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
    let started = Instant::now();
    let chat_model = match load::model(&backend, &config.model_path, "MODEL_PATH") {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let separate_embedder = match &config.embed_model_path {
        Some(path) => match load::model(&backend, path, "EMBED_MODEL_PATH") {
            Ok(m) => Some(m),
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        },
        None => None,
    };
    let embedder = separate_embedder.as_ref().unwrap_or(&chat_model);
    let template = match template::choose(&chat_model, config.chat_template.as_deref()) {
        Some((template, source)) => {
            tracing::info!(source = %source, "chat template chosen");
            Some(template)
        }
        None => {
            tracing::warn!(
                "the model has no chat template and no built-in fits: `chat` will fail, `embed` works (set LLAMA_CHAT_TEMPLATE)"
            );
            None
        }
    };

    let chat_params = LlamaContextParams::default()
        .with_n_ctx(Some(config.ctx_size))
        .with_n_batch(512)
        .with_n_threads(config.threads)
        .with_n_threads_batch(config.threads);
    // Pooled embeddings need the whole input in one micro-batch.
    let embed_window = config.ctx_size.get().min(2048);
    let embed_params = LlamaContextParams::default()
        .with_n_ctx(std::num::NonZeroU32::new(embed_window))
        .with_n_batch(embed_window)
        .with_n_ubatch(embed_window)
        .with_n_threads(config.threads)
        .with_n_threads_batch(config.threads)
        .with_embeddings(true)
        .with_pooling_type(LlamaPoolingType::Mean);
    let contexts = chat_model
        .new_context(&backend, chat_params)
        .and_then(|chat| Ok((chat, embedder.new_context(&backend, embed_params)?)));
    let (mut chat_ctx, mut embed_ctx) = match contexts {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(LoadError::Worker(format!(
                "llama.cpp could not create a context: {e}"
            ))));
            return;
        }
    };

    let info = ModelInfo {
        chat_model: model_id(&config.model_path),
        embed_model: config
            .embed_model_path
            .as_deref()
            .map_or_else(|| model_id(&config.model_path), model_id),
        dimensions: usize::try_from(embedder.n_embd()).unwrap_or_default(),
    };
    tracing::info!(
        model = %config.model_path.display(),
        load_ms = started.elapsed().as_millis(),
        threads = config.threads,
        ctx = config.ctx_size.get(),
        dimensions = info.dimensions,
        "model loaded"
    );
    if ready.send(Ok(info)).is_err() {
        return;
    }
    // Runs until every Engine handle is dropped (the server stopped).
    for job in queue {
        match job {
            Job::Chat(request, reply) => {
                let _ = reply.send(chat::generate(
                    &chat_model,
                    template.as_ref(),
                    &mut chat_ctx,
                    &request,
                ));
            }
            Job::Embed(texts, reply) => {
                let _ = reply.send(embed::embed(embedder, &mut embed_ctx, &texts));
            }
        }
    }
}
