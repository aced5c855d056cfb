//! Workflows through `serve`: the `workflow__*` tools over fixture children, compensation, and a
//! run picked up after the orchestrator is killed with SIGKILL mid-run.

use std::{path::Path, time::Duration};

use serde_json::{Value, json};

use crate::common::*;

/// A config with the fixture server `fx` and these workflow files in `workflows/`.
fn with_workflows(files: &[(&str, String)]) -> TempConfig {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let dir = cfg.dir.path().join("workflows");
    std::fs::create_dir(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    cfg
}

fn lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn run_status(host: &Host, run: &str) -> Value {
    host.call("workflow_status", json!({"run_id": run}))
        .await
        .unwrap()
        .structured_content
        .unwrap()
}

async fn wait_run(host: &Host, run: &str, limit: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let s = run_status(host, run).await;
        let status = s["status"].as_str().unwrap_or_default().to_owned();
        if !["pending", "running", "paused"].contains(&status.as_str())
            || tokio::time::Instant::now() > deadline
        {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_workflow_tool_runs_its_steps_and_a_failure_compensates() {
    let record = |label: &str, file: &str| json!({"file": file, "label": label});
    let log = tempfile::NamedTempFile::new().unwrap();
    let file = log.path().to_str().unwrap().to_owned();
    let ok = json!({
        "name": "greet", "version": "1.0.0",
        "input": {"type": "object", "properties": {"who": {"type": "string"}}, "required": ["who"]},
        "steps": [
            {"name": "hello", "mcp": "fx", "action": "echo", "params": {"message": "hello ${input.who}"}},
            {"name": "sum", "mcp": "fx", "action": "add", "params": {"a": 2, "b": 3}, "dependsOn": ["hello"]}
        ],
        "output": {"greeting": "$steps.hello.result", "sum": "$steps.sum.result.sum"}
    });
    let saga = json!({
        "name": "saga", "version": "1",
        "steps": [
            {"name": "a", "mcp": "fx", "action": "record", "params": record("a", &file),
             "compensation": {"action": "record", "params": record("undo_a", &file)}},
            {"name": "b", "mcp": "fx", "action": "fail", "params": {"message": "card declined"}, "dependsOn": ["a"]}
        ]
    });
    let cfg = with_workflows(&[
        ("greet.json", ok.to_string()),
        ("saga.json", saga.to_string()),
    ]);
    let host = Host::start(&cfg.path).await;
    let names = host.tool_names().await;
    assert!(names.contains(&"workflow__greet".to_owned()), "{names:?}");
    assert!(names.contains(&"workflow_status".to_owned()), "{names:?}");

    let r = host
        .call("workflow__greet", json!({"who": "Ada"}))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true), "{r:?}");
    let s = r.structured_content.unwrap();
    assert_eq!(s["status"], "completed");
    assert_eq!(
        s["output"],
        json!({"greeting": "echo: hello Ada", "sum": 5.0})
    );
    assert!(s["run_id"].as_str().is_some_and(|id| id.len() == 36));

    let bad = host.call("workflow__greet", json!({})).await.unwrap_err();
    assert!(bad.to_string().contains("missing who"), "{bad}");

    let r = host.call("workflow__saga", json!({})).await.unwrap();
    assert_eq!(r.is_error, Some(true));
    let s = r.structured_content.unwrap();
    assert_eq!(s["status"], "compensated", "{s}");
    assert!(
        s["error"].as_str().unwrap().contains("card declined"),
        "{s}"
    );
    assert_eq!(lines(log.path()), ["a", "undo_a"]);

    let status = host.status().await;
    assert_eq!(status["workflows"]["totals"]["completed"], 1, "{status}");
    assert_eq!(
        status["workflows"]["definitions"].as_array().unwrap().len(),
        2
    );
    host.close().await;
}

#[tokio::test]
async fn a_run_killed_mid_step_resumes_without_repeating_what_is_unsafe() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let file = log.path().to_str().unwrap().to_owned();
    let step = |name: &str, tool: &str, ms: u64, deps: &[&str]| {
        json!({"name": name, "mcp": "fx", "action": tool, "dependsOn": deps,
               "params": {"file": file, "label": name, "ms": ms}})
    };
    let mut first = step("a", "record", 0, &[]);
    first["compensation"] =
        json!({"action": "record", "params": {"file": file, "label": "undo_a"}});
    let risky = json!({"name": "risky", "version": "1", "steps": [first, step("b", "record", 4000, &["a"])]});
    let safe = json!({"name": "safe", "version": "1", "steps": [
        step("s1", "record", 0, &[]), step("s2", "record_safe", 4000, &["s1"]), step("s3", "record", 0, &["s2"])
    ]});
    let cfg = with_workflows(&[
        ("risky.json", risky.to_string()),
        ("safe.json", safe.to_string()),
    ]);

    let mut host = Host::start(&cfg.path).await;
    let start = |name: &str| json!({"workflow": name});
    let risky_run = host
        .call("workflow_start", start("risky"))
        .await
        .unwrap()
        .structured_content
        .unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let safe_run = host
        .call("workflow_start", start("safe"))
        .await
        .unwrap()
        .structured_content
        .unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !(lines(log.path()).contains(&"b".to_owned())
        && lines(log.path()).contains(&"s2".to_owned()))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "steps b and s2 never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    host.process.start_kill().unwrap();
    let _ = host.process.wait().await;
    drop(host);

    let host = Host::start(&cfg.path).await;
    let r = wait_run(&host, &risky_run, Duration::from_secs(30)).await;
    assert_eq!(r["status"], "compensated", "{r}");
    assert_eq!(r["steps"][1]["status"], "unknown", "{r}");
    let s = wait_run(&host, &safe_run, Duration::from_secs(30)).await;
    assert_eq!(s["status"], "completed", "{s}");
    let recorded = lines(log.path());
    let count = |l: &str| recorded.iter().filter(|x| *x == l).count();
    assert_eq!(
        count("a"),
        1,
        "a completed step is not repeated: {recorded:?}"
    );
    assert_eq!(
        count("b"),
        1,
        "an unsafe running step is not repeated: {recorded:?}"
    );
    assert_eq!(
        count("undo_a"),
        1,
        "the failed run compensates: {recorded:?}"
    );
    assert_eq!(count("s1"), 1, "{recorded:?}");
    assert_eq!(
        count("s2"),
        2,
        "an idempotent running step is repeated: {recorded:?}"
    );
    assert_eq!(count("s3"), 1, "{recorded:?}");
    host.close().await;
}

/// The shipped examples in `config/examples/workflows/`, copied beside a config.
fn examples(config: serde_json::Value) -> TempConfig {
    let cfg = write_config(&config);
    let to = cfg.dir.path().join("workflows");
    std::fs::create_dir(&to).unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/workflows");
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    cfg
}

#[tokio::test]
async fn the_seed_example_sends_the_coached_sms_and_cancels_it_when_a_later_step_fails() {
    fixture_bin();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut config: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/workflows.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for server in config["servers"].as_object_mut().unwrap().values_mut() {
        server["command"] = json!(fixture_bin());
        server["env"] = json!({"FIXTURE_CRM_LOG": log.path()});
    }
    let cfg = examples(config);
    let host = Host::start(&cfg.path).await;
    let input = json!({"phone": "+15551234567", "coach_id": "c1", "message": "See you at 6"});
    let r = host
        .call("workflow__send_coached_sms", input)
        .await
        .unwrap();
    let s = r.structured_content.unwrap();
    assert_eq!(s["status"], "completed", "{s}");
    assert!(
        s["output"]["sms_id"].as_str().unwrap().starts_with("sms-"),
        "{s}"
    );
    let sent: Vec<Value> = lines(log.path())
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        sent[0]["args"]["message"],
        "See you at 6 (sent by Coach Grace)"
    );
    assert_eq!(sent[0]["args"]["from"], "+15550000001");
    assert_eq!(sent[1]["args"]["message"], "Sent to Ada");

    let failing =
        json!({"phone": "+15551234567", "coach_id": "c1", "message": "Hi", "coach_note": " FAIL"});
    let r = host
        .call("workflow__send_coached_sms", failing)
        .await
        .unwrap();
    let s = r.structured_content.unwrap();
    assert_eq!(s["status"], "compensated", "{s}");
    let sent = lines(log.path());
    assert!(
        sent.last().unwrap().contains("send_cancellation_notice"),
        "the SMS already sent is followed by its cancellation: {sent:?}"
    );
    let run = s["run_id"].as_str().unwrap();
    let (code, out, err) = cli(
        &cfg.path,
        &["workflow", "graph", "send_coached_sms", "--run", run],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("flowchart") && out.contains("compensated"),
        "{out}"
    );
    host.close().await;
}

#[tokio::test]
async fn the_vendor_example_searches_then_summarises_through_the_unified_tools() {
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{method, path},
    };
    vendor_bin();
    let apis = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tavily/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            {"title": "Rust 2026", "url": "https://example.org/rust", "content": "Rust ships a new edition."}
        ]})))
        .mount(&apis)
        .await;
    Mock::given(method("POST"))
        .and(path("/groq/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "c1", "object": "chat.completion", "created": 1, "model": "llama-3.1-8b-instant",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Rust has a new edition."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}
        })))
        .mount(&apis)
        .await;
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mcp_servers.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let cfg = examples(config);
    let base = apis.uri();
    let env = [
        ("GROQ_API_KEY", "gsk-test".to_owned()),
        ("GROQ_BASE_URL", format!("{base}/groq")),
        ("TAVILY_API_KEY", "tvly-test".to_owned()),
        ("TAVILY_BASE_URL", format!("{base}/tavily")),
    ];
    let host = Host::start_with_env(&cfg.path, &env).await;
    host.wait_status(Duration::from_secs(20), |s| {
        state_of(s, "groq") == "running" && state_of(s, "tavily") == "running"
    })
    .await;
    let r = host
        .call("workflow__search_and_summarize", json!({"query": "rust"}))
        .await
        .unwrap();
    let s = r.structured_content.unwrap();
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(s["output"]["summary"], "Rust has a new edition.");
    assert_eq!(s["output"]["sources"][0]["url"], "https://example.org/rust");
    host.close().await;
}

#[tokio::test]
async fn the_sdk_runs_watches_and_cancels_workflows() {
    use mcp_orchestrator::client::{Client, RunStatus};
    let greet = json!({"name": "greet", "version": "1", "steps": [
        {"name": "hello", "mcp": "fx", "action": "echo", "params": {"message": "hi ${input.who}"}}
    ], "output": {"said": "$steps.hello.result"}});
    let stuck = json!({"name": "stuck", "version": "1", "steps": [
        {"name": "wait", "mcp": "fx", "action": "hang"}
    ]});
    let cfg = with_workflows(&[
        ("greet.json", greet.to_string()),
        ("stuck.json", stuck.to_string()),
    ]);
    let client = Client::spawn_with(orchestrator_bin(), &cfg.path)
        .await
        .unwrap();
    let run = client
        .run_workflow("greet", json!({"who": "Ada"}))
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!({"said": "echo: hi Ada"})));
    let report = client.workflow_status(&run.run_id).await.unwrap();
    assert_eq!(report.steps[0].attempts, 1);

    let id = client.start_workflow("stuck", json!({}), 5).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while client.workflow_status(&id).await.unwrap().steps[0]
        .status
        .as_str()
        != "running"
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        client.cancel_workflow(&id).await.unwrap(),
        RunStatus::Running
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = client.workflow_status(&id).await.unwrap();
        if r.status == RunStatus::Cancelled {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{r:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client.close().await;
}

#[test]
fn the_python_sdk_runs_workflows_sees_progress_and_cancels_by_abandoning_the_call() {
    let Some(python) = peers_python() else { return };
    let log = tempfile::NamedTempFile::new().unwrap();
    let file = log.path().to_str().unwrap().to_owned();
    let greet = json!({"name": "greet", "version": "1",
    "input": {"type": "object", "properties": {"who": {"type": "string"}}, "required": ["who"]},
    "steps": [
        {"name": "hello", "mcp": "fx", "action": "echo", "params": {"message": "hi ${input.who}"}},
        {"name": "sum", "mcp": "fx", "action": "add", "params": {"a": 1, "b": 2}}
    ]});
    let saga = json!({"name": "saga", "version": "1", "steps": [
        {"name": "a", "mcp": "fx", "action": "record", "params": {"file": file, "label": "a"},
         "compensation": {"action": "record", "params": {"file": file, "label": "undo_a"}}},
        {"name": "b", "mcp": "fx", "action": "fail", "params": {"message": "no"}, "dependsOn": ["a"]}
    ]});
    let stuck = json!({"name": "stuck", "version": "1", "steps": [
        {"name": "a", "mcp": "fx", "action": "record", "params": {"file": file, "label": "s_a"},
         "compensation": {"action": "record", "params": {"file": file, "label": "undo_s_a"}}},
        {"name": "wait", "mcp": "fx", "action": "hang", "dependsOn": ["a"]}
    ]});
    let cfg = with_workflows(&[
        ("greet.json", greet.to_string()),
        ("saga.json", saga.to_string()),
        ("stuck.json", stuck.to_string()),
    ]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/python_workflows.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(orchestrator_bin())
        .arg(&cfg.path)
        .env("XDG_RUNTIME_DIR", cfg.dir.path())
        .env("XDG_STATE_HOME", cfg.dir.path().join("state"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed:\n{stdout}\n{stderr}");
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(
        v["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("workflow__stuck")),
        "{v}"
    );
    assert_eq!(v["greet_schema"]["required"], json!(["who"]));
    assert_eq!(v["greet"]["status"], "completed", "{v}");
    assert_eq!(v["greet"]["output"]["hello"], "echo: hi Py");
    let progress = v["greet_progress"].as_array().unwrap();
    assert_eq!(
        progress.len(),
        3,
        "run started, then one per step: {progress:?}"
    );
    assert_eq!(progress[2][0], 2.0);
    assert_eq!(progress[2][1], 2.0);
    assert_eq!(v["saga"]["status"], "compensated");
    assert_eq!(v["saga_is_error"], true);
    assert_eq!(v["stuck"]["status"], "cancelled", "{v}");
    assert_eq!(v["stuck"]["steps"][0]["status"], "compensated", "{v}");
    assert_eq!(v["stuck"]["steps"][1]["status"], "cancelled", "{v}");
    assert_eq!(lines(log.path()), ["a", "undo_a", "s_a", "undo_s_a"]);
}

#[tokio::test]
async fn workflow_files_are_checked_with_file_and_key_and_reloaded_while_serving() {
    let good = "name: good\nversion: \"1\"\nsteps:\n  - {name: a, mcp: fx, action: echo, params: {message: hi}}\n";
    let cfg = with_workflows(&[("good.yaml", good.to_owned())]);
    let dir = cfg.dir.path().join("workflows");

    // Offline checks: the same validation `serve` runs, naming the file and the key.
    let bad = cfg.dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "name: bad\nversion: \"1\"\nsteps:\n  - {name: a, mcp: nowhere, action: echo}\n  - {name: b, mcp: fx, action: echo, dependsOnn: [a]}\n",
    )
    .unwrap();
    let (code, _, err) = cli(&cfg.path, &["workflow", "validate", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.yaml") && err.contains("dependsOnn"),
        "{err}"
    );
    let cycle = cfg.dir.path().join("cycle.json");
    std::fs::write(
        &cycle,
        json!({"name": "cycle", "version": "1", "steps": [
            {"name": "a", "mcp": "fx", "action": "echo", "dependsOn": ["b"]},
            {"name": "b", "mcp": "fx", "action": "echo", "dependsOn": ["a"]}
        ]})
        .to_string(),
    )
    .unwrap();
    let (code, _, err) = cli(
        &cfg.path,
        &["workflow", "validate", cycle.to_str().unwrap()],
    );
    assert_eq!(code, 2);
    assert!(err.contains("cycle.json") && err.contains("cycle"), "{err}");
    let (code, out, err) = cli(&cfg.path, &["workflow", "validate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("good.yaml"), "{out}");
    let (code, out, _) = cli(&cfg.path, &["workflow", "graph", "good", "--dot"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("digraph"), "{out}");

    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    assert!(
        host.tool_names()
            .await
            .contains(&"workflow__good".to_owned())
    );
    let before = host.settled_list_changed().await;

    // A new file is picked up, and hosts are told the list changed.
    std::fs::write(
        dir.join("more.yaml"),
        good.replace("name: good", "name: more"),
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !host
        .tool_names()
        .await
        .contains(&"workflow__more".to_owned())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "workflow__more never listed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(host.list_changed() > before);

    // A file broken in place keeps its previous definition and is reported; a step naming a tool
    // the running server lacks is refused against the live surface.
    std::fs::write(
        dir.join("good.yaml"),
        "name: good\nversion: \"1\"\nsteps: oops\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("missing.yaml"),
        "name: missing\nversion: \"1\"\nsteps:\n  - {name: a, mcp: fx, action: no_such_tool}\n",
    )
    .unwrap();
    let s = host
        .wait_status(Duration::from_secs(10), |s| {
            s["workflows"]["errors"]
                .as_array()
                .is_some_and(|e| e.len() == 2)
        })
        .await;
    let errors = s["workflows"]["errors"].to_string();
    assert!(
        errors.contains("good.yaml") && errors.contains("steps"),
        "{errors}"
    );
    assert!(
        errors.contains("missing.yaml") && errors.contains("no_such_tool"),
        "{errors}"
    );
    let names = host.tool_names().await;
    assert!(names.contains(&"workflow__good".to_owned()), "{names:?}");
    assert!(
        !names.contains(&"workflow__missing".to_owned()),
        "{names:?}"
    );
    let r = host.call("workflow__good", json!({})).await.unwrap();
    assert_eq!(r.structured_content.unwrap()["status"], "completed");

    // `workflow validate` checks against the running instance's servers when one runs; offline
    // (above) a tool cannot be known.
    let live = cfg.dir.path().join("live.yaml");
    std::fs::write(
        &live,
        "name: live\nversion: \"1\"\nsteps:\n  - {name: a, mcp: fx, action: no_such_tool}\n",
    )
    .unwrap();
    let (code, _, err) = cli(&cfg.path, &["workflow", "validate", live.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("live.yaml") && err.contains("no_such_tool"),
        "{err}"
    );

    // `check` reports the broken files too.
    let (code, _, err) = cli(&cfg.path, &["check"]);
    assert_eq!(code, 2);
    assert!(err.contains("good.yaml"), "{err}");
    host.close().await;
}

#[tokio::test]
async fn a_capability_step_runs_on_a_running_server_that_lists_it_falling_back_past_a_broken_one() {
    let wf = json!({"name": "cap", "version": "1", "steps": [
        {"name": "a", "capability": "math", "action": "add", "params": {"a": 2, "b": 2}, "retries": 0}
    ]});
    let cfg = write_config(&json!({
        "servers": {
            "first": {"command": fixture_bin(), "args": ["--crash-after", "1"], "capabilities": ["math"]},
            "second": {"command": fixture_bin(), "capabilities": ["math"]},
            "other": {"command": fixture_bin()}
        },
        "orchestrator": fast_settings()
    }));
    std::fs::create_dir(cfg.dir.path().join("workflows")).unwrap();
    std::fs::write(cfg.dir.path().join("workflows/cap.json"), wf.to_string()).unwrap();
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| {
        ["first", "second", "other"]
            .iter()
            .all(|id| state_of(s, id) == "running")
    })
    .await;
    let r = host.call("workflow__cap", json!({})).await.unwrap();
    let s = r.structured_content.unwrap();
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(s["output"]["a"]["sum"], 4.0);
    let run = s["run_id"].as_str().unwrap();
    let status = host
        .call("workflow_status", json!({"run_id": run, "events": true}))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    let completed = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "step_completed")
        .unwrap()
        .clone();
    assert_eq!(completed["detail"]["server"], "second", "{status}");
    host.close().await;
}

#[tokio::test]
async fn the_workflow_cli_runs_and_steers_runs_with_or_without_a_running_instance() {
    let quick = json!({"name": "quick", "version": "1", "steps": [
        {"name": "a", "mcp": "fx", "action": "echo", "params": {"message": "${input.word}"}}
    ], "output": {"said": "$steps.a.result"}});
    let slow = json!({"name": "slow", "version": "1", "steps": [
        {"name": "a", "mcp": "fx", "action": "slow", "params": {"ms": 600, "steps": 2}},
        {"name": "b", "mcp": "fx", "action": "echo", "params": {"message": "b"}, "dependsOn": ["a"]}
    ]});
    let cfg = with_workflows(&[
        ("quick.json", quick.to_string()),
        ("slow.json", slow.to_string()),
    ]);

    // No instance: the command starts the servers, runs, prints, stops them.
    let (code, out, err) = cli(
        &cfg.path,
        &[
            "workflow",
            "run",
            "quick",
            "--input",
            r#"{"word":"hey"}"#,
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["output"]["said"], "echo: hey", "{v}");

    // Detached without an instance, the run waits in the store; a cancel is recorded there and
    // carried out when an instance starts.
    let (code, out, err) = cli(
        &cfg.path,
        &["workflow", "run", "slow", "--detach", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let waiting = serde_json::from_str::<Value>(&out).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, out, _) = cli(&cfg.path, &["workflow", "status", &waiting, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["status"],
        "pending"
    );
    let (code, out, err) = cli(&cfg.path, &["workflow", "cancel", &waiting]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("through the store"), "{out}");

    let host = Host::start(&cfg.path).await;
    let r = wait_run(&host, &waiting, Duration::from_secs(15)).await;
    assert_eq!(r["status"], "cancelled", "{r}");

    // With an instance: the verbs go through its control socket.
    let (code, out, err) = cli(
        &cfg.path,
        &["workflow", "run", "slow", "--detach", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let run = serde_json::from_str::<Value>(&out).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, out, err) = cli(&cfg.path, &["workflow", "pause", &run]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("running instance"), "{out}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let s = run_status(&host, &run).await;
    assert_eq!(s["status"], "paused", "{s}");
    assert_eq!(
        s["steps"][1]["status"], "pending",
        "no new step while paused: {s}"
    );
    let (code, _, err) = cli(&cfg.path, &["workflow", "resume", &run]);
    assert_eq!(code, 0, "{err}");
    let s = wait_run(&host, &run, Duration::from_secs(15)).await;
    assert_eq!(s["status"], "completed", "{s}");
    let (code, out, _) = cli(&cfg.path, &["workflow", "status", &run, "--events"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("workflow_paused") && out.contains("workflow_resumed"),
        "{out}"
    );
    let (code, out, _) = cli(&cfg.path, &["workflow", "runs", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let (code, _, err) = cli(&cfg.path, &["workflow", "cancel", &run]);
    assert_eq!(code, 1);
    assert!(err.contains("already ended"), "{err}");
    host.close().await;
}

#[tokio::test]
async fn a_step_whose_server_crashes_is_retried_once_the_server_is_back() {
    let wf = json!({"name": "bumpy", "version": "1", "steps": [
        {"name": "a", "mcp": "flaky", "action": "echo", "params": {"message": "one"}},
        {"name": "b", "mcp": "flaky", "action": "add", "params": {"a": 1, "b": 1}, "dependsOn": ["a"], "retries": 3},
        {"name": "c", "mcp": "flaky", "action": "hang", "dependsOn": ["b"], "timeout": "300ms", "retries": 1}
    ]});
    let mut settings = fast_settings();
    settings["max_restarts"] = json!(10);
    let cfg = write_config(&json!({
        "servers": {"flaky": {"command": fixture_bin(), "args": ["--crash-after", "2"]}},
        "orchestrator": settings
    }));
    std::fs::create_dir(cfg.dir.path().join("workflows")).unwrap();
    std::fs::write(cfg.dir.path().join("workflows/bumpy.json"), wf.to_string()).unwrap();
    let host = Host::start(&cfg.path).await;
    let r = host.call("workflow__bumpy", json!({})).await.unwrap();
    let s = r.structured_content.unwrap();
    // `b`'s first call crashes the server (its second call); the retry reaches the restarted one.
    let run = s["run_id"].as_str().unwrap();
    let report = run_status(&host, run).await;
    assert_eq!(report["steps"][1]["status"], "completed", "{report}");
    assert!(
        report["steps"][1]["attempts"].as_u64().unwrap() >= 2,
        "{report}"
    );
    // `c` fails each attempt (the server crashes again, then the hang times out): the run fails
    // naming the step.
    assert_eq!(s["status"], "failed", "{s}");
    assert_eq!(report["steps"][2]["status"], "failed");
    assert_eq!(report["steps"][2]["attempts"], 2);
    assert!(
        s["error"].as_str().unwrap().contains("step `c` failed"),
        "{s}"
    );
    host.close().await;
}
