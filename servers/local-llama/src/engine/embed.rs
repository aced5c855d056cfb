//! Embeddings: mean-pooled over the tokens by llama.cpp, then L2-normalised.

use llama_cpp_2::{context::LlamaContext, llama_batch::LlamaBatch, model::LlamaModel};
use mcp_server_kit::{ErrorKind, VendorError};

fn l2_normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// One unit-length vector per text, in order.
pub fn embed(
    model: &LlamaModel,
    ctx: &mut LlamaContext<'_>,
    texts: &[String],
) -> Result<Vec<Vec<f32>>, VendorError> {
    let vocab = model.vocab();
    let window = ctx.n_ubatch() as usize;
    let mut out = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        let tokens = vocab.tokenize(text.as_bytes(), true, false);
        if tokens.len() > window {
            return Err(VendorError::new(
                ErrorKind::BadRequest,
                format!(
                    "input {i} is {} tokens; embeddings take at most {window}",
                    tokens.len()
                ),
            ));
        }
        ctx.clear_kv_cache();
        let mut batch = LlamaBatch::new(tokens.len().max(1), 1);
        for (pos, token) in tokens.iter().enumerate() {
            batch
                .add(*token, pos as i32, &[0], true)
                .map_err(|e| failure("build a batch", e))?;
        }
        ctx.decode(&mut batch)
            .map_err(|e| failure("evaluate the input", e))?;
        let pooled = ctx
            .embeddings_seq_ith(0)
            .map_err(|e| failure("pool the embedding", e))?
            .to_vec();
        out.push(l2_normalised(pooled));
    }
    Ok(out)
}

fn failure(what: &str, err: impl std::fmt::Display) -> VendorError {
    VendorError::new(
        ErrorKind::Unavailable,
        format!("llama.cpp failed to {what}: {err}"),
    )
    .with_retryable(false)
}

#[cfg(test)]
mod tests {
    use super::l2_normalised;

    #[test]
    fn unit_length() {
        let v = l2_normalised(vec![3.0, 4.0]);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert_eq!(l2_normalised(vec![0.0, 0.0]), vec![0.0, 0.0]);
    }
}
