//! A client of the OpenAI-compatible HTTP API (`/chat/completions`, `/embeddings`, `/models`),
//! shared by the openai and groq servers. Works against any compatible base URL (OpenAI, Groq,
//! Ollama, vLLM, LM Studio, llama.cpp's server).

mod wire;

use mcp_server_kit::{
    Api, CallError, VendorError,
    shapes::{ChatArgs, ChatOutput, EmbedArgs, EmbedOutput, ListModelsOutput, ModelEntry, Usage},
};
use serde_json::{Map, Value};

/// How one vendor's dialect differs from OpenAI's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI itself and most compatible servers: everything passes through.
    OpenAi,
    /// Groq answers HTTP 400 to `logprobs`, `logit_bias`, `top_logprobs`, `n` other than 1 and
    /// `messages[].name`, so those are removed before sending.
    Groq,
}

/// One OpenAI-compatible API with its defaults.
#[derive(Debug, Clone)]
pub struct OpenAiCompat {
    /// The HTTP API (client, name, key).
    pub api: Api,
    /// The base URL, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The server id reported as `vendor`.
    pub vendor: &'static str,
    /// The dialect.
    pub dialect: Dialect,
    /// Model used by `chat` when the caller names none.
    pub chat_model: String,
    /// Model used by `embed` when the caller names none.
    pub embed_model: String,
}

impl OpenAiCompat {
    fn url(&self, path: &str) -> String {
        mcp_server_kit::env::endpoint(&self.base_url, path)
    }

    fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.api.key() {
            Some(key) => request.bearer_auth(key.expose()),
            None => request,
        }
    }

    /// `POST /chat/completions`.
    pub async fn chat(&self, args: ChatArgs) -> Result<ChatOutput, CallError> {
        let messages = args.conversation()?;
        let model = args
            .model
            .clone()
            .unwrap_or_else(|| self.chat_model.clone());
        let mut body = Map::new();
        if let Some(extra) = &args.extra {
            body.extend(extra.clone());
        }
        body.insert("model".into(), Value::String(model.clone()));
        body.insert(
            "messages".into(),
            serde_json::to_value(&messages).unwrap_or_default(),
        );
        let mut set = |key: &str, value: Option<Value>| {
            if let Some(v) = value {
                body.insert(key.into(), v);
            }
        };
        set("temperature", args.temperature.map(Value::from));
        set("top_p", args.top_p.map(Value::from));
        set("max_tokens", args.max_tokens.map(Value::from));
        set("seed", args.seed.map(Value::from));
        set("stop", args.stop.clone().map(Value::from));
        body.insert("stream".into(), Value::Bool(false));
        if self.dialect == Dialect::Groq {
            strip_for_groq(&mut body);
        }
        let request = self.authorised(
            self.api
                .client()
                .post(self.url("/chat/completions"))
                .json(&body),
        );
        let answer: wire::ChatResponse = self.api.json(request).await.map_err(|e| {
            e.on_not_found(|| format!("model '{model}' not found at {}", self.api.name()))
        })?;
        let choice = answer
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| self.api.malformed("no `choices` in the chat completion"))?;
        Ok(ChatOutput {
            message: choice.message.content.unwrap_or_default(),
            model: answer.model.unwrap_or(model),
            vendor: self.vendor.to_owned(),
            usage: answer.usage.map(Usage::from).unwrap_or_default(),
            finish_reason: choice.finish_reason,
        })
    }

    /// `POST /embeddings`.
    pub async fn embed(&self, args: EmbedArgs) -> Result<EmbedOutput, CallError> {
        let texts = args.texts()?;
        let model = args
            .model
            .clone()
            .unwrap_or_else(|| self.embed_model.clone());
        let mut body =
            serde_json::json!({"model": model, "input": texts, "encoding_format": "float"});
        if let Some(d) = args.dimensions {
            body["dimensions"] = Value::from(d);
        }
        let request = self.authorised(self.api.client().post(self.url("/embeddings")).json(&body));
        let answer: wire::EmbeddingResponse = self.api.json(request).await.map_err(|e| {
            e.on_not_found(|| format!("embedding model '{model}' not found at {}", self.api.name()))
        })?;
        let mut data = answer.data;
        // The API may answer out of order; `index` says where each vector belongs.
        data.sort_by_key(|d| d.index);
        if data.len() != texts.len() {
            return Err(self
                .api
                .malformed(&format!(
                    "{} embedding(s) for {} input(s)",
                    data.len(),
                    texts.len()
                ))
                .into());
        }
        let embeddings: Vec<Vec<f32>> = data.into_iter().map(|d| d.embedding).collect();
        let dimensions = embeddings.first().map_or(0, Vec::len);
        if embeddings.iter().any(|e| e.len() != dimensions) {
            return Err(self.api.malformed("embeddings of different lengths").into());
        }
        Ok(EmbedOutput {
            embeddings,
            model: answer.model.unwrap_or(model),
            dimensions,
            vendor: self.vendor.to_owned(),
        })
    }

    /// `GET /models`.
    pub async fn list_models(&self) -> Result<ListModelsOutput, VendorError> {
        let request = self.authorised(self.api.client().get(self.url("/models")));
        let answer: wire::ModelList = self.api.json(request).await?;
        Ok(ListModelsOutput {
            models: answer
                .data
                .into_iter()
                .map(|m| ModelEntry {
                    id: m.id,
                    vendor: self.vendor.to_owned(),
                })
                .collect(),
        })
    }
}

/// Removes the request fields Groq rejects with HTTP 400.
fn strip_for_groq(body: &mut Map<String, Value>) {
    for key in ["logprobs", "logit_bias", "top_logprobs"] {
        body.remove(key);
    }
    if body.get("n").is_some_and(|n| n.as_u64() != Some(1)) {
        body.remove("n");
    }
    if let Some(Value::Array(messages)) = body.get_mut("messages") {
        for message in messages.iter_mut().filter_map(Value::as_object_mut) {
            message.remove("name");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groq_strips_rejected_fields() {
        let mut body = json!({
            "model": "m", "n": 3, "logprobs": true, "top_logprobs": 2, "logit_bias": {"1": 2},
            "temperature": 0.5,
            "messages": [{"role": "user", "content": "hi", "name": "bob"}]
        })
        .as_object()
        .cloned()
        .unwrap();
        strip_for_groq(&mut body);
        assert_eq!(
            Value::Object(body),
            json!({"model": "m", "temperature": 0.5, "messages": [{"role": "user", "content": "hi"}]})
        );
    }

    #[test]
    fn groq_keeps_n_of_one() {
        let mut body = json!({"n": 1}).as_object().cloned().unwrap();
        strip_for_groq(&mut body);
        assert_eq!(body.get("n"), Some(&json!(1)));
    }
}
