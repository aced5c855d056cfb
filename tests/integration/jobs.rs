//! Jobs and artifacts end to end: the seed `000` flow (an ML service job makes a model, a
//! backtest job references it, lineage shows the chain) through the REST API from a plain HTTP
//! client, the CLI and the SDK, against a real HTTP service written for the test; the official
//! Python SDK on tools and resources; a SIGKILL mid-job; two replicas on one PostgreSQL.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::*;

/// The seed's job service (config/examples/jobs/seed_services.py), its base URL and output dir.
struct Service {
    _child: tokio::process::Child,
    url: String,
    out: PathBuf,
}

impl Service {
    async fn start(python: &Path, out: &Path) -> Self {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/jobs/seed_services.py");
        let mut child = tokio::process::Command::new(python)
            .arg(script)
            .arg(out)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        Self {
            _child: child,
            url: format!("http://127.0.0.1:{}", port.trim()),
            out: out.to_owned(),
        }
    }

    /// The job types it ran, in order.
    fn executions(&self) -> Vec<String> {
        std::fs::read_to_string(self.out.join("executions.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// A plain HTTP client with the bearer token.
struct Rest {
    http: reqwest::Client,
    token: String,
}

impl Rest {
    fn new(token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            token: token.to_owned(),
        }
    }

    async fn send(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, url)
            .header("Authorization", format!("Bearer {}", self.token));
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, url: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, url, None).await
    }

    async fn post(&self, url: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, url, Some(body)).await
    }

    /// `DELETE /jobs/{id}`, then waits until the job is cancelled.
    async fn cancel_and_wait(&self, base: &HttpServe, id: &str) {
        let (code, _) = self
            .send(
                reqwest::Method::DELETE,
                &base.at(&format!("/jobs/{id}")),
                None,
            )
            .await;
        assert_eq!(code, 200);
        let cancelled = self.wait_job(base, id, Duration::from_secs(15)).await;
        assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    }

    /// Polls `GET {base}/jobs/{id}` until the job has ended.
    async fn wait_job(&self, base: &HttpServe, id: &str, limit: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let (code, job) = self.get(&base.at(&format!("/jobs/{id}"))).await;
            assert_eq!(code, 200, "{job}");
            if ["completed", "failed", "cancelled"].contains(&job["status"].as_str().unwrap()) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} did not end: {job}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn env_for(cfg: &TempConfig, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("XDG_RUNTIME_DIR", cfg.dir.path().display().to_string()),
        (
            "XDG_STATE_HOME",
            cfg.dir.path().join("state").display().to_string(),
        ),
        ("MCP_ORCHESTRATOR_HTTP_TOKEN", token.to_owned()),
    ]
}

#[tokio::test]
async fn the_seed_flow_runs_through_the_rest_api_the_cli_and_the_sdk() {
    let Some(python) = peers_python() else { return };
    let out = tempfile::tempdir().unwrap();
    let svc = Service::start(&python, out.path()).await;
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[])},
        "orchestrator": fast_settings(),
        "jobs": {"types": {
            "ml_experiment": {"service_url": svc.url, "description": "trains a model"},
            "backtest": {"service_url": svc.url},
            "echo": {"tool": "fx__echo"},
            "broken": {"service_url": "http://127.0.0.1:9"}
        }, "health_interval": 1}
    }));
    let token = "rest-token-1234567890";
    let srv = HttpServe::start(&cfg.path, &[], &env_for(&cfg, token)).await;
    let rest = Rest::new(token);

    // Probes need no token; everything else does.
    let health = reqwest::get(srv.at("/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while reqwest::get(srv.at("/health/ready"))
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(tokio::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let anonymous = reqwest::get(srv.at("/jobs")).await.unwrap();
    assert_eq!(anonymous.status(), 401);

    // The ML job makes a model.
    let (code, job) = rest
        .post(
            &srv.at("/jobs"),
            json!({"type": "ml_experiment", "payload": {"lr": 0.01}, "metadata": {"owner": "seed"}}),
        )
        .await;
    assert_eq!(code, 201, "{job}");
    let ml_id = job["job_id"].as_str().unwrap().to_owned();
    let ml = rest.wait_job(&srv, &ml_id, Duration::from_secs(30)).await;
    assert_eq!(ml["status"], "completed", "{ml}");
    assert_eq!(ml["result"]["accuracy"], 0.93);
    assert_eq!(ml["result"]["metadata"]["owner"], "seed");
    let (code, listed) = rest.get(&srv.at(&format!("/artifacts/job/{ml_id}"))).await;
    assert_eq!(code, 200);
    let model = listed["artifacts"][0].clone();
    assert_eq!(model["type"], "model", "{listed}");
    assert_eq!(model["service_id"], "seed-services");
    assert!(model["checksum"].as_str().unwrap().starts_with("sha256:"));
    let model_id = model["id"].as_str().unwrap().to_owned();

    // The backtest references it by id; the service receives its descriptor.
    let (code, job) = rest
        .post(
            &srv.at("/jobs"),
            json!({"type": "backtest", "payload": {"model": format!("artifact://{model_id}")}}),
        )
        .await;
    assert_eq!(code, 201, "{job}");
    assert_eq!(job["inputs"], json!([model_id]));
    let bt_id = job["job_id"].as_str().unwrap().to_owned();
    let bt = rest.wait_job(&srv, &bt_id, Duration::from_secs(30)).await;
    assert_eq!(bt["status"], "completed", "{bt}");
    assert_eq!(bt["result"]["model_checksum"], model["checksum"]);
    let metrics_id = bt["artifacts"][0].as_str().unwrap().to_owned();
    let (code, lineage) = rest
        .get(&srv.at(&format!("/artifacts/{metrics_id}/dependencies")))
        .await;
    assert_eq!(code, 200);
    assert_eq!(lineage["ancestors"][0]["id"], json!(model_id), "{lineage}");
    let (_, down) = rest
        .get(&srv.at(&format!("/artifacts/{model_id}/dependencies")))
        .await;
    assert_eq!(down["descendants"][0]["id"], json!(metrics_id), "{down}");
    let (_, by_type) = rest.get(&srv.at("/artifacts?type=model&tag=ml")).await;
    assert_eq!(by_type["artifacts"].as_array().unwrap().len(), 1);

    // Bad input: clear errors, nothing stored.
    let bad = [
        (json!({"type": "nope"}), 400, "unknown job type `nope`"),
        (
            json!({"tool": "fx__echo", "arguments": {"message": 3}}),
            400,
            "`message` must be of type",
        ),
        (
            json!({"type": "backtest", "payload": {"model": "artifact://missing"}}),
            400,
            "unknown artifact `missing`",
        ),
    ];
    for (body, status, message) in bad {
        let (code, e) = rest.post(&srv.at("/jobs"), body).await;
        assert_eq!(code, status, "{e}");
        assert_eq!(e["error"]["code"], "invalid");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(message),
            "{e}"
        );
    }
    let (code, e) = rest.get(&srv.at("/jobs/no-such-job")).await;
    assert_eq!(
        (code, e["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (code, e) = rest
        .post(
            &srv.at("/artifacts"),
            json!({"name": "x", "content": "abc", "checksum": format!("sha256:{}", "0".repeat(64))}),
        )
        .await;
    assert_eq!(code, 400, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("checksum mismatch")
    );

    // A service that is down fails the job with what to do, never hangs it.
    let (_, job) = rest.post(&srv.at("/jobs"), json!({"type": "broken"})).await;
    let broken = rest
        .wait_job(
            &srv,
            job["job_id"].as_str().unwrap(),
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(broken["status"], "failed");
    assert!(
        broken["error"].as_str().unwrap().contains("is unreachable"),
        "{broken}"
    );

    // Cancel a slow one through DELETE.
    let (_, job) = rest
        .post(
            &srv.at("/jobs"),
            json!({"type": "ml_experiment", "payload": {"sleep": 30}}),
        )
        .await;
    let slow = job["job_id"].as_str().unwrap().to_owned();
    rest.cancel_and_wait(&srv, &slow).await;

    // The CLI: submit through the running instance and wait; list; lineage; services.
    let (code, stdout, stderr) = cli(
        &cfg.path,
        &[
            "jobs",
            "submit",
            "--type",
            "echo",
            "--config",
            r#"{"message": "from the cli"}"#,
            "--wait",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let echoed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(echoed["status"], "completed");
    assert!(stderr.contains("completed"), "progress is shown: {stderr}");
    let (code, stdout, _) = cli(
        &cfg.path,
        &["jobs", "list", "--status", "completed", "--json"],
    );
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 3, "{listed}");
    let (code, stdout, _) = cli(&cfg.path, &["artifacts", "lineage", &metrics_id]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("made from:") && stdout.contains(&model_id),
        "{stdout}"
    );
    let (code, stdout, _) = cli(&cfg.path, &["services", "list", "--json"]);
    assert_eq!(code, 0);
    let services: Value = serde_json::from_str(&stdout).unwrap();
    let health_of = |t: &str| {
        services["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["type"] == t)
            .unwrap()["health"]
            .clone()
    };
    assert_eq!(health_of("ml_experiment"), "healthy");
    assert_eq!(health_of("broken"), "unhealthy");
    let file = cfg.dir.path().join("model.out");
    let (code, _, stderr) = cli(
        &cfg.path,
        &["artifacts", "get", &model_id, "-o", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(std::fs::read_to_string(&file).unwrap().contains("weights"));

    // The SDK over stdio, on the same store (the HTTP instance runs the job).
    let mut cmd = tokio::process::Command::new(orchestrator_bin());
    cmd.arg("--config").arg(&cfg.path).arg("serve");
    // Its own runtime dir: the HTTP instance holds the config's control socket.
    let own = cfg.dir.path().join("sdk");
    std::fs::create_dir_all(&own).unwrap();
    cmd.env("XDG_RUNTIME_DIR", &own)
        .env("XDG_STATE_HOME", cfg.dir.path().join("state"));
    let client = mcp_orchestrator::client::Client::from_command(cmd)
        .await
        .unwrap();
    let id = client
        .submit_job(json!({"tool": "fx__echo", "arguments": {"message": "sdk"}}))
        .await
        .unwrap();
    let done = client.wait_job(&id, Duration::from_secs(20)).await.unwrap();
    assert_eq!(
        done.status,
        mcp_orchestrator::client::JobStatus::Completed,
        "{done:?}"
    );
    let jobs = client.list_jobs(None, Some("ml_experiment")).await.unwrap();
    assert_eq!(jobs.len(), 2);
    let made = client.artifacts(Some(&ml_id)).await.unwrap();
    assert_eq!(made[0].id, model_id);
    let lineage = client.artifact_lineage(&metrics_id).await.unwrap();
    assert_eq!(lineage.ancestors[0].id, model_id);
    client.close().await;

    // The service ran each job once.
    let ran = svc.executions();
    assert_eq!(
        ran.iter().filter(|l| l.starts_with("backtest")).count(),
        1,
        "{ran:?}"
    );
}

#[tokio::test]
async fn the_openapi_document_is_valid_and_generated() {
    let Some(python) = peers_python() else { return };
    let cfg = write_config(&json!({"servers": {}}));
    let srv = HttpServe::start(&cfg.path, &[], &env_for(&cfg, "t0123456789")).await;
    let doc = Rest::new("t0123456789")
        .get(&srv.at("/openapi.json"))
        .await
        .1;
    let file = cfg.dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let out = std::process::Command::new(python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for path in [
        "/jobs",
        "/jobs/{id}",
        "/artifacts/{id}/dependencies",
        "/health/ready",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}

#[tokio::test]
async fn the_python_sdk_submits_jobs_and_reads_artifacts_as_resources() {
    let Some(python) = peers_python() else { return };
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[])},
        "orchestrator": fast_settings(),
        "jobs": {"types": {"echo": {"tool": "fx__echo"}}}
    }));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/python_jobs.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .arg(orchestrator_bin())
        .arg(&cfg.path)
        .env("XDG_RUNTIME_DIR", cfg.dir.path())
        .env("XDG_STATE_HOME", cfg.dir.path().join("state"))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed:\n{stdout}\n{stderr}");
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    for t in [
        "job_submit",
        "job_status",
        "job_list",
        "job_cancel",
        "artifact_register",
        "artifact_lineage",
    ] {
        assert!(
            v["tools"].as_array().unwrap().contains(&json!(t)),
            "{t}: {v}"
        );
    }
    assert_eq!(v["job"]["status"], "completed", "{v}");
    assert_eq!(v["job"]["result"], "echo: from python", "{v}");
    let uri = format!("artifact://{}", v["artifact"]["id"].as_str().unwrap());
    assert!(
        v["resources"].as_array().unwrap().contains(&json!(uri)),
        "{v}"
    );
    assert_eq!(v["read"]["text"], "hello artifact");
    assert_eq!(v["read"]["uri"], json!(uri));
    assert!(v["list_changed"].as_u64().unwrap() >= 1, "{v}");
    assert!(
        v["unknown_job_error"]
            .as_str()
            .unwrap()
            .contains("unknown job"),
        "{v}"
    );
}

#[tokio::test]
async fn a_job_killed_mid_call_is_repeated_only_when_safe() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let file = log.path().to_str().unwrap().to_owned();
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[])},
        "orchestrator": fast_settings(),
        "jobs": {"types": {}}
    }));
    let mut host = Host::start(&cfg.path).await;
    let mut ids = Vec::new();
    for (tool, label) in [("fx__record", "unsafe"), ("fx__record_safe", "safe")] {
        let r = host
            .call(
                "job_submit",
                json!({"tool": tool, "arguments": {"file": file, "label": label, "ms": 4000}}),
            )
            .await
            .unwrap();
        ids.push(
            r.structured_content.unwrap()["job_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let lines = || -> Vec<String> {
        std::fs::read_to_string(log.path())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while lines().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "jobs never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    host.process.start_kill().unwrap();
    let _ = host.process.wait().await;
    drop(host);

    let host = Host::start(&cfg.path).await;
    let wait = |id: String| {
        let host = &host;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let r = host
                    .call("job_status", json!({"job_id": id, "wait_seconds": 5}))
                    .await
                    .unwrap();
                let job = r.structured_content.unwrap();
                if ["completed", "failed", "cancelled"].contains(&job["status"].as_str().unwrap()) {
                    return job;
                }
                assert!(tokio::time::Instant::now() < deadline, "{job}");
            }
        }
    };
    let unsafe_job = wait(ids[0].clone()).await;
    assert_eq!(unsafe_job["status"], "failed", "{unsafe_job}");
    assert!(
        unsafe_job["error"]
            .as_str()
            .unwrap()
            .contains("not marked idempotent")
    );
    let safe_job = wait(ids[1].clone()).await;
    assert_eq!(safe_job["status"], "completed", "{safe_job}");
    assert_eq!(safe_job["attempts"], 2);
    let recorded = lines();
    let count = |l: &str| recorded.iter().filter(|x| *x == l).count();
    assert_eq!(count("unsafe"), 1, "{recorded:?}");
    assert_eq!(count("safe"), 2, "{recorded:?}");
    host.close().await;
}

/// A fresh database on the run's PostgreSQL (`MCP_TEST_POSTGRES_URL`, which `scripts/test.sh`
/// starts), or `None` to skip when it is not set and peers are not required.
async fn postgres_database() -> Option<String> {
    use sqlx::{Connection, Executor};
    let Ok(base) = std::env::var("MCP_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("MCP_REQUIRE_PEERS").as_deref() != Ok("1"),
            "MCP_TEST_POSTGRES_URL is not set: run the suite through scripts/test.sh"
        );
        eprintln!("skipping: no PostgreSQL (run the suite through scripts/test.sh)");
        return None;
    };
    let name = format!("it_{}", uuid_like());
    let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let _ = conn.close().await;
    // The same server and credentials, another database.
    let (head, tail) = base
        .split_once('?')
        .map_or((base.as_str(), ""), |(h, t)| (h, t));
    let head = match head.rfind('/') {
        Some(i) if i > "postgres://".len() => &head[..i],
        _ => head,
    };
    Some(if tail.is_empty() {
        format!("{head}/{name}")
    } else {
        format!("{head}/{name}?{tail}")
    })
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", n, std::process::id())
}

#[tokio::test]
async fn two_replicas_on_one_postgres_share_jobs_and_take_over_a_dead_ones() {
    let Some(python) = peers_python() else { return };
    let Some(store) = postgres_database().await else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let svc = Service::start(&python, out.path()).await;
    let shared = tempfile::tempdir().unwrap();
    let mut settings = fast_settings();
    settings["store"] = json!(store);
    settings["lease_ttl"] = json!(2);
    let cfg = write_config(&json!({
        "servers": {},
        "orchestrator": settings,
        "jobs": {
            "types": {
                "ml_experiment": {"service_url": svc.url, "idempotent": true},
                "ml_experiment_once": {"service_url": svc.url}
            },
            "artifacts_dir": shared.path().join("artifacts")
        }
    }));
    // Each replica has its own runtime dir (its control socket), as on separate machines.
    let replica = |name: &str| {
        let run = cfg.dir.path().join(name);
        std::fs::create_dir_all(&run).unwrap();
        vec![
            ("XDG_RUNTIME_DIR", run.display().to_string()),
            ("XDG_STATE_HOME", run.join("state").display().to_string()),
            (
                "MCP_ORCHESTRATOR_HTTP_TOKEN",
                "fleet-token-123456".to_owned(),
            ),
        ]
    };
    let mut a = HttpServe::start(&cfg.path, &[], &replica("a")).await;
    let b = HttpServe::start(&cfg.path, &[], &replica("b")).await;
    let rest = Rest::new("fleet-token-123456");

    // Submitted through A, visible and cancellable through B.
    let (_, job) = rest
        .post(
            &a.at("/jobs"),
            json!({"type": "ml_experiment", "payload": {"sleep": 30}}),
        )
        .await;
    let stuck = job["job_id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !svc.executions().iter().any(|l| l.ends_with(&stuck)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never sent to the service"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, seen) = rest.get(&b.at(&format!("/jobs/{stuck}"))).await;
    assert_eq!(seen["status"], "running", "{seen}");
    rest.cancel_and_wait(&b, &stuck).await;

    // A dies mid-job: B takes its jobs over; the idempotent one runs again, the other fails.
    let mut ids = Vec::new();
    for t in ["ml_experiment", "ml_experiment_once"] {
        let (_, job) = rest
            .post(&a.at("/jobs"), json!({"type": t, "payload": {"sleep": 3}}))
            .await;
        ids.push(job["job_id"].as_str().unwrap().to_owned());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ids
        .iter()
        .any(|id| !svc.executions().iter().any(|l| l.ends_with(id.as_str())))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never sent to the service"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.child.start_kill().unwrap();
    let _ = a.child.wait().await;
    let again = rest.wait_job(&b, &ids[0], Duration::from_secs(30)).await;
    assert_eq!(again["status"], "completed", "{again}");
    assert_eq!(again["attempts"], 2);
    let once = rest.wait_job(&b, &ids[1], Duration::from_secs(30)).await;
    assert_eq!(once["status"], "failed", "{once}");
    assert!(
        once["error"]
            .as_str()
            .unwrap()
            .contains("not marked idempotent"),
        "{once}"
    );
    let ran = svc.executions();
    let runs = |id: &str| ran.iter().filter(|l| l.ends_with(id)).count();
    assert_eq!((runs(&ids[0]), runs(&ids[1])), (2, 1), "{ran:?}");
    // The model the second replica's run made is registered once, readable by both.
    let (_, made) = rest.get(&b.at(&format!("/artifacts/job/{}", ids[0]))).await;
    assert_eq!(made["artifacts"].as_array().unwrap().len(), 1, "{made}");
}

/// A host that declares the tasks extension (SEP-2663) at initialize.
#[derive(Clone)]
struct TasksHost;

impl rmcp::ClientHandler for TasksHost {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        rmcp::model::ClientConfig::new(
            rmcp::model::ClientCapabilities::builder()
                .enable_tasks()
                .build(),
            rmcp::model::Implementation::new("tasks-host", "1"),
        )
        .with_protocol_version(rmcp::model::ProtocolVersion::V_2025_11_25)
    }
}

async fn tasks_host(
    cfg: &TempConfig,
) -> (
    rmcp::service::RunningService<rmcp::RoleClient, TasksHost>,
    tokio::process::Child,
) {
    use rmcp::ServiceExt;
    let mut process = serve_command(&cfg.path, &[]).spawn().unwrap();
    let transport = rmcp::transport::async_rw::AsyncRwTransport::new_client(
        process.stdout.take().unwrap(),
        process.stdin.take().unwrap(),
    );
    let client = TasksHost.serve(transport).await.unwrap();
    (client, process)
}

async fn task_until_done(
    client: &rmcp::service::RunningService<rmcp::RoleClient, TasksHost>,
    task_id: &str,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = client
            .get_task(rmcp::model::GetTaskParams::new(task_id))
            .await
            .unwrap();
        let v = serde_json::to_value(&r).unwrap();
        if v["status"] != "working" {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn hosts_that_declare_tasks_get_durable_tasks_that_survive_a_restart() {
    use rmcp::model::{CallToolRequestParams, CallToolResponse};
    let log = tempfile::NamedTempFile::new().unwrap();
    let file = log.path().to_str().unwrap().to_owned();
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[])},
        "orchestrator": fast_settings(),
        "jobs": {"types": {}}
    }));
    let flow = json!({"name": "flow", "version": "1", "steps": [
        {"name": "a", "mcp": "fx", "action": "echo", "params": {"message": "task"}}
    ]});
    std::fs::create_dir_all(cfg.dir.path().join("workflows")).unwrap();
    std::fs::write(cfg.dir.path().join("workflows/flow.json"), flow.to_string()).unwrap();

    let (client, mut process) = tasks_host(&cfg).await;
    let args = |v: Value| v.as_object().unwrap().clone();
    // A job as a task.
    let r = client
        .call_tool_once(CallToolRequestParams::new("job_submit").with_arguments(args(
            json!({"tool": "fx__record_safe", "arguments": {"file": file, "label": "t", "ms": 10}}),
        )))
        .await
        .unwrap();
    let CallToolResponse::Task(task) = r else {
        panic!("a task: {r:?}")
    };
    let job_task = task.task.task_id.clone();
    assert!(job_task.starts_with("job-"), "{job_task}");
    assert_eq!(task.task.poll_interval_ms, Some(500));
    let done = task_until_done(&client, &job_task).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["result"]["structuredContent"]["status"], "completed",
        "{done}"
    );
    // A workflow as a task.
    let r = client
        .call_tool_once(CallToolRequestParams::new("workflow__flow"))
        .await
        .unwrap();
    let CallToolResponse::Task(task) = r else {
        panic!("a task: {r:?}")
    };
    let run_task = task.task.task_id.clone();
    let done = task_until_done(&client, &run_task).await;
    assert_eq!(
        done["result"]["structuredContent"]["output"]["a"], "echo: task",
        "{done}"
    );
    // A slow one, cancelled through tasks/cancel.
    let r = client
        .call_tool_once(
            CallToolRequestParams::new("job_submit")
                .with_arguments(args(json!({"tool": "fx__hang"}))),
        )
        .await
        .unwrap();
    let CallToolResponse::Task(task) = r else {
        panic!("a task: {r:?}")
    };
    let hang = task.task.task_id.clone();
    client
        .cancel_task(rmcp::model::CancelTaskParams::new(&hang))
        .await
        .unwrap();
    let done = task_until_done(&client, &hang).await;
    assert_eq!(done["status"], "cancelled", "{done}");
    // Unknown ids are -32602.
    let e = client
        .get_task(rmcp::model::GetTaskParams::new(
            "job-00000000-0000-4000-8000-000000000000",
        ))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unknown task"), "{e}");
    let _ = client.cancel().await;
    process.start_kill().unwrap();
    let _ = process.wait().await;

    // Another process on the same store answers for the same tasks.
    let (client, _process) = tasks_host(&cfg).await;
    let again = task_until_done(&client, &job_task).await;
    assert_eq!(again["status"], "completed", "{again}");
    let again = task_until_done(&client, &run_task).await;
    assert_eq!(again["status"], "completed", "{again}");
    let _ = client.cancel().await;
}

#[test]
fn a_damaged_store_file_is_refused_with_what_to_do_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("main.db");
    let garbage: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&db, &garbage).unwrap();
    let path = dir.path().join("mcp_servers.json");
    let config =
        json!({"servers": {}, "orchestrator": {"store": format!("sqlite://{}", db.display())}});
    std::fs::write(&path, config.to_string()).unwrap();
    let (code, _, stderr) = cli(&path, &["serve"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("damaged or is not an SQLite database"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("mv {} {}.broken", db.display(), db.display())),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        garbage,
        "the file is never overwritten"
    );
    // The CLI's store readers say the same.
    let (code, _, stderr) = cli(&path, &["jobs", "list"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("nothing was changed"), "{stderr}");
}
