//! Chat generation: the model's own chat template, then token-by-token sampling.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use llama_cpp_2::{
    context::LlamaContext,
    llama_batch::LlamaBatch,
    model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel},
    sampling::LlamaSampler,
};
use mcp_server_kit::{ErrorKind, VendorError};

/// Tokens decoded per prompt batch.
const PROMPT_BATCH: usize = 512;
/// Temperature when the caller gives none (llama.cpp's own default).
const DEFAULT_TEMPERATURE: f32 = 0.8;

/// One chat generation.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// (role, content) pairs, oldest first.
    pub messages: Vec<(String, String)>,
    /// Sampling temperature; 0 = greedy (deterministic).
    pub temperature: Option<f32>,
    /// Nucleus sampling mass.
    pub top_p: Option<f32>,
    /// Reply length limit.
    pub max_tokens: u32,
    /// Sampling seed; random when absent.
    pub seed: Option<u32>,
    /// Sequences that end the reply (not included in it).
    pub stop: Vec<String>,
}

/// A generated reply.
#[derive(Debug, Clone)]
pub struct ChatReply {
    /// The reply text.
    pub text: String,
    /// Tokens in the templated prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// `stop` (end of turn or a stop sequence) or `length`.
    pub finish_reason: &'static str,
}

fn bad_request(message: impl Into<String>) -> VendorError {
    VendorError::new(ErrorKind::BadRequest, message)
}

fn engine_failure(what: &str, err: impl std::fmt::Display) -> VendorError {
    VendorError::new(
        ErrorKind::Unavailable,
        format!("llama.cpp failed to {what}: {err}"),
    )
    .with_retryable(false)
}

fn sampler(request: &ChatRequest) -> LlamaSampler {
    let temperature = request.temperature.unwrap_or(DEFAULT_TEMPERATURE);
    if temperature <= 0.0 {
        return LlamaSampler::greedy();
    }
    let seed = request.seed.unwrap_or_else(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        nanos ^ std::process::id()
    });
    let mut chain = Vec::new();
    if let Some(p) = request.top_p.filter(|p| *p > 0.0 && *p < 1.0) {
        chain.push(LlamaSampler::top_p(p, 1));
    }
    chain.push(LlamaSampler::temp(temperature));
    chain.push(LlamaSampler::dist(seed));
    LlamaSampler::chain_simple(chain)
}

/// Where the earliest stop sequence starts in `text`, if one occurs.
fn stop_position(text: &[u8], stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.windows(s.len()).position(|w| w == s.as_bytes()))
        .min()
}

fn per_second(tokens: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        tokens as f64 / secs
    } else {
        0.0
    }
}

/// Generates a reply to `request` with `ctx` (whose cache is cleared first).
pub fn generate(
    model: &LlamaModel,
    template: Option<&LlamaChatTemplate>,
    ctx: &mut LlamaContext<'_>,
    request: &ChatRequest,
) -> Result<ChatReply, VendorError> {
    let template = template
        .ok_or_else(|| bad_request("the loaded model has no chat template, so it cannot chat"))?;
    let messages = request
        .messages
        .iter()
        .map(|(role, content)| LlamaChatMessage::new(role.clone(), content.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad_request("a message contains a NUL character"))?;
    let prompt = model
        .apply_chat_template(template, &messages, true)
        .map_err(|e| engine_failure("apply the chat template", e))?;
    let vocab = model.vocab();
    let mut tokens = vocab.tokenize(prompt.as_bytes(), true, true);
    // Templates that write <bos> themselves would otherwise get a second one from add_special.
    if tokens.len() >= 2 && tokens[0] == vocab.bos() && tokens[1] == vocab.bos() {
        tokens.remove(0);
    }
    let window = ctx.n_ctx() as usize;
    if tokens.len() >= window {
        return Err(bad_request(format!(
            "the prompt is {} tokens but the context holds {window} (raise LLAMA_CTX_SIZE)",
            tokens.len()
        )));
    }
    let budget = (request.max_tokens as usize).min(window - tokens.len());

    ctx.clear_kv_cache();
    let mut batch = LlamaBatch::new(PROMPT_BATCH, 1);
    let prompt_start = Instant::now();
    for (chunk_index, chunk) in tokens.chunks(PROMPT_BATCH).enumerate() {
        batch.clear();
        for (offset, token) in chunk.iter().enumerate() {
            let pos = chunk_index * PROMPT_BATCH + offset;
            let wants_logits = pos + 1 == tokens.len();
            batch
                .add(*token, pos as i32, &[0], wants_logits)
                .map_err(|e| engine_failure("build a batch", e))?;
        }
        ctx.decode(&mut batch)
            .map_err(|e| engine_failure("evaluate the prompt", e))?;
    }
    let prompt_time = prompt_start.elapsed();

    let mut sampler = sampler(request);
    let mut text = Vec::new();
    let mut generated = 0usize;
    let mut finish_reason = "length";
    let mut pos = tokens.len();
    let gen_start = Instant::now();
    while generated < budget {
        let token = sampler.sample(ctx, batch.n_tokens() - 1);
        if vocab.is_eog(token) {
            finish_reason = "stop";
            break;
        }
        text.extend(vocab.token_to_piece(token, false, None));
        generated += 1;
        if let Some(cut) = stop_position(&text, &request.stop) {
            text.truncate(cut);
            finish_reason = "stop";
            break;
        }
        if generated == budget {
            break;
        }
        batch.clear();
        batch
            .add(token, pos as i32, &[0], true)
            .map_err(|e| engine_failure("build a batch", e))?;
        pos += 1;
        ctx.decode(&mut batch)
            .map_err(|e| engine_failure("generate", e))?;
    }
    let gen_time = gen_start.elapsed();
    tracing::info!(
        prompt_tokens = tokens.len(),
        prompt_ms = prompt_time.as_millis(),
        prompt_tok_per_s = format!("{:.1}", per_second(tokens.len(), prompt_time)),
        generated_tokens = generated,
        gen_ms = gen_time.as_millis(),
        gen_tok_per_s = format!("{:.1}", per_second(generated, gen_time)),
        finish_reason,
        "chat done"
    );
    Ok(ChatReply {
        text: String::from_utf8_lossy(&text).trim().to_owned(),
        prompt_tokens: tokens.len() as u64,
        completion_tokens: generated as u64,
        finish_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::stop_position;

    #[test]
    fn finds_the_earliest_stop() {
        let stops = vec!["END".to_owned(), "\n\n".to_owned()];
        assert_eq!(stop_position(b"abc\n\nxyzEND", &stops), Some(3));
        assert_eq!(stop_position(b"abc", &stops), None);
    }
}
