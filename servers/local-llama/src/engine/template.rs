//! Choosing the chat template: the one stored in the GGUF, else llama.cpp's built-in template
//! for the model's architecture (some GGUF exports, such as the Gemma-3 270M one the tests use,
//! ship without `tokenizer.chat_template`).

use llama_cpp_2::model::{LlamaChatTemplate, LlamaModel};

/// llama.cpp's built-in template name for a `general.architecture`, when it has one.
fn builtin_for(architecture: &str) -> Option<&'static str> {
    match architecture {
        a if a.starts_with("gemma") => Some("gemma"),
        a if a.starts_with("qwen") => Some("chatml"),
        "llama" => Some("llama3"),
        "phi3" => Some("phi3"),
        "mistral" | "mistral3" => Some("mistral-v7"),
        _ => None,
    }
}

/// The template to apply, and where it came from (for the log). `override_name` is
/// `LLAMA_CHAT_TEMPLATE`: a built-in template name ("gemma", "chatml", ...) or a template text.
pub fn choose(
    model: &LlamaModel,
    override_name: Option<&str>,
) -> Option<(LlamaChatTemplate, String)> {
    if let Some(name) = override_name {
        return LlamaChatTemplate::new(name)
            .ok()
            .map(|t| (t, "LLAMA_CHAT_TEMPLATE".to_owned()));
    }
    if let Ok(own) = model.chat_template(None) {
        return Some((own, "the GGUF's tokenizer.chat_template".to_owned()));
    }
    let architecture = model.meta_val_str("general.architecture").ok()?;
    let name = builtin_for(&architecture)?;
    let template = LlamaChatTemplate::new(name).ok()?;
    Some((
        template,
        format!("llama.cpp's built-in '{name}' template (architecture {architecture})"),
    ))
}

#[cfg(test)]
mod tests {
    use super::builtin_for;

    #[test]
    fn gemma_family_uses_gemma() {
        assert_eq!(builtin_for("gemma3"), Some("gemma"));
        assert_eq!(builtin_for("unknown-arch"), None);
    }
}
