//! local_llama on the real Gemma-3 270M GGUF (scripts/fetch-gemma.sh), over real stdio.
//! Without the file the model tests skip, or fail when `MCP_REQUIRE_PEERS=1`.

use std::{path::PathBuf, process::Stdio, time::Duration};

use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, ClientConfig, ProtocolVersion},
    service::RunningService,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-local-llama");

fn gemma() -> Option<PathBuf> {
    let path = std::env::var_os("GEMMA_GGUF")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
            let cache = std::env::var_os("MCP_CACHE_DIR")
                .map_or_else(|| repo.join(".cache"), PathBuf::from);
            cache.join("models/gemma-3-270m-q4_k_m.gguf")
        });
    if path.exists() {
        return Some(path);
    }
    let why = format!(
        "Gemma GGUF not found at {} (run scripts/fetch-gemma.sh)",
        path.display()
    );
    if std::env::var("MCP_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{why}; MCP_REQUIRE_PEERS=1 requires it");
    }
    eprintln!("SKIPPED: {why}");
    None
}

type Client = RunningService<RoleClient, ClientConfig>;

async fn start(model: &std::path::Path) -> Client {
    let cmd = tokio::process::Command::new(BIN).configure(|c| {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("MODEL_PATH", model)
            .env("LLAMA_THREADS", "2");
    });
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let config =
        ClientConfig::default().with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE);
    tokio::time::timeout(Duration::from_secs(60), config.serve(transport))
        .await
        .expect("initialize timed out")
        .expect("initialize")
}

async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().expect("object"));
    tokio::time::timeout(Duration::from_secs(120), client.call_tool(params))
        .await
        .expect("tool call timed out")
        .expect("tool call")
}

fn ok(result: &CallToolResult) -> Value {
    assert_ne!(
        result.is_error,
        Some(true),
        "tool error: {:?}",
        result.content
    );
    result
        .structured_content
        .clone()
        .expect("structuredContent")
}

#[tokio::test]
async fn chat_embed_and_models_on_gemma() {
    let Some(model) = gemma() else { return };
    let client = start(&model).await;

    let models = ok(&call(&client, "list_models", json!({})).await);
    assert_eq!(
        models,
        json!({"models": [{"id": "gemma-3-270m-q4_k_m", "vendor": "local_llama"}]})
    );

    let args = json!({"message": "Name a colour.", "temperature": 0, "max_tokens": 12});
    let first = ok(&call(&client, "chat", args.clone()).await);
    let second = ok(&call(&client, "chat", args.clone()).await);
    assert!(
        !first["message"].as_str().unwrap_or_default().is_empty(),
        "{first}"
    );
    assert_eq!(
        first["message"], second["message"],
        "temperature 0 is deterministic"
    );
    assert_eq!(first["vendor"], "local_llama");
    assert_eq!(first["model"], "gemma-3-270m-q4_k_m");
    assert!(
        first["usage"]["prompt_tokens"].as_u64().unwrap_or(0) > 0,
        "{first}"
    );
    assert!(
        first["usage"]["completion_tokens"].as_u64().unwrap_or(99) <= 12,
        "{first}"
    );
    assert!(
        matches!(first["finish_reason"].as_str(), Some("stop" | "length")),
        "{first}"
    );

    // Concurrent calls queue on the one worker and still agree.
    let (a, b) = tokio::join!(
        call(&client, "chat", args.clone()),
        call(&client, "chat", args.clone())
    );
    assert_eq!(ok(&a)["message"], first["message"]);
    assert_eq!(ok(&b)["message"], first["message"]);

    // A seeded sampled reply is reproducible too.
    let seeded = json!({"message": "Tell me a story.", "temperature": 0.9, "top_p": 0.95, "seed": 42, "max_tokens": 10});
    let s1 = ok(&call(&client, "chat", seeded.clone()).await);
    let s2 = ok(&call(&client, "chat", seeded).await);
    assert_eq!(s1["message"], s2["message"], "same seed, same text");

    let embedded = ok(&call(
        &client,
        "embed",
        json!({"input": ["The cat sat on the mat.", "Quarterly revenue grew."]}),
    )
    .await);
    let dims = embedded["dimensions"].as_u64().expect("dimensions") as usize;
    assert_eq!(dims, 640, "Gemma-3 270M has 640-dimensional embeddings");
    let vectors: Vec<Vec<f64>> =
        serde_json::from_value(embedded["embeddings"].clone()).expect("vectors");
    assert_eq!(vectors.len(), 2);
    for v in &vectors {
        assert_eq!(v.len(), dims);
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "unit norm, got {norm}");
    }
    assert_ne!(vectors[0], vectors[1]);
    let again = ok(&call(
        &client,
        "embed",
        json!({"input": "The cat sat on the mat."}),
    )
    .await);
    let again: Vec<Vec<f64>> =
        serde_json::from_value(again["embeddings"].clone()).expect("vectors");
    let cos: f64 = again[0].iter().zip(&vectors[0]).map(|(x, y)| x * y).sum();
    assert!(cos > 0.9999, "same text, same vector (cos {cos})");

    let wrong = call(&client, "chat", json!({"message": "hi", "model": "gpt-4o"})).await;
    assert_eq!(wrong.is_error, Some(true));
    let meta =
        serde_json::to_value(&wrong).expect("json")["_meta"]["mcp-orchestrator/error"].clone();
    assert_eq!(meta["kind"], "not_found");

    let bad_dims = call(&client, "embed", json!({"input": "x", "dimensions": 16})).await;
    assert_eq!(bad_dims.is_error, Some(true));
    client.cancel().await.expect("close");
}

async fn start_failure(model_path: Option<&std::path::Path>) -> (Option<i32>, String, Vec<u8>) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env_clear().stdin(Stdio::piped());
    if let Some(path) = model_path {
        cmd.env("MODEL_PATH", path);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("exit in time")
        .expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.stdout,
    )
}

#[tokio::test]
async fn missing_model_path_variable() {
    let (code, stderr, stdout) = start_failure(None).await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("MODEL_PATH is not set"), "{stderr}");
    assert!(stdout.is_empty());
}

#[tokio::test]
async fn missing_model_file() {
    let path = std::env::temp_dir().join("mcp-local-llama-no-such-model.gguf");
    let (code, stderr, stdout) = start_failure(Some(&path)).await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&format!("cannot read the model file {}", path.display())),
        "{stderr}"
    );
    assert!(stdout.is_empty());
}

#[tokio::test]
async fn corrupt_model_file() {
    let dir = std::env::temp_dir().join(format!("mcp-local-llama-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let junk = dir.join("junk.gguf");
    std::fs::write(&junk, b"this is not a model").expect("write");
    let (code, stderr, _) = start_failure(Some(&junk)).await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&format!("{} is not a usable GGUF model", junk.display())),
        "{stderr}"
    );

    // A real header with the tensors cut off: llama.cpp itself must refuse it.
    if let Some(model) = gemma() {
        let bytes = std::fs::read(&model).expect("read model");
        let truncated = dir.join("truncated.gguf");
        std::fs::write(&truncated, &bytes[..bytes.len() / 3]).expect("write");
        let (code, stderr, _) = start_failure(Some(&truncated)).await;
        assert_eq!(code, Some(1));
        assert!(
            stderr.contains(&format!(
                "{} is not a usable GGUF model",
                truncated.display()
            )),
            "{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
