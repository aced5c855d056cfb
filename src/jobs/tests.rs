//! The job pool over a tool fake and a real HTTP service served in the test, on both stores.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, routing::post};
use rmcp::model::{CallToolResult, ContentBlock, Tool, ToolAnnotations};
use serde_json::{Value, json};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{Jobs, Parts, ToolIndex};
use crate::engine::clock::Clock as _;
use crate::{
    artifacts::Artifacts,
    config::{JobTarget, JobType, JobsConfig, ResourceLimits},
    dispatch::{BoxFuture, CallContext, CallOutcome, CallRequest, Catalog, ToolCaller, ToolRef},
    engine::{
        Definitions, Engine, Limits,
        clock::{ManualClock, SystemClock},
    },
    error::RouteError,
    report::{JobStatus, RunStatus},
    store::{JobFilter, Store, testing::both},
    workflow::{Loaded, World, parse},
};

/// Host-facing tools: `echo` returns its arguments (and, with `attach`, an embedded resource);
/// `hang` waits for cancellation; `safe` is `echo` marked idempotent; `write` is `echo` not
/// marked. Counts calls by tool.
#[derive(Default)]
struct Fake {
    calls: Mutex<BTreeMap<String, usize>>,
    running: AtomicUsize,
    peak: AtomicUsize,
    /// The `p` argument of each call, in call order.
    order: Mutex<Vec<i64>>,
}

impl Fake {
    fn count(&self, tool: &str) -> usize {
        self.calls.lock().unwrap().get(tool).copied().unwrap_or(0)
    }
}

impl ToolCaller for Fake {
    fn catalog(&self) -> Catalog {
        Catalog::default()
    }

    fn call<'a>(
        &'a self,
        request: CallRequest,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<CallOutcome, RouteError>> {
        Box::pin(async move {
            let name = match request.tool {
                ToolRef::Host { name } => name,
                ToolRef::Child { tool, .. } => tool,
            };
            *self.calls.lock().unwrap().entry(name.clone()).or_default() += 1;
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            let args = Value::Object(request.arguments.unwrap_or_default());
            let ms = args["ms"].as_u64().unwrap_or(0);
            if let Some(p) = args["p"].as_i64() {
                self.order.lock().unwrap().push(p);
            }
            let out = if name == "hang" {
                cx.cancel.cancelled().await;
                Err(RouteError::InvalidParams("cancelled".into()))
            } else {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(ms)) => {}
                    () = cx.cancel.cancelled() => {}
                }
                let mut content = vec![ContentBlock::text("ok")];
                if args["attach"].as_bool() == Some(true) {
                    content.push(
                        serde_json::from_value(json!({"type": "resource", "resource":
                            {"uri": "mem://out/report.md", "mimeType": "text/markdown", "text": "# report"}}))
                        .unwrap(),
                    );
                }
                let mut r = CallToolResult::success(content);
                r.structured_content = Some(args);
                Ok(rmcp::model::CallToolResponse::Complete(r))
            };
            self.running.fetch_sub(1, Ordering::SeqCst);
            out
        })
    }

    fn wait_settled<'a>(&'a self, _server: &'a str, _limit: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

struct Index;

impl ToolIndex for Index {
    fn tool(&self, name: &str) -> Option<Tool> {
        let schema = json!({"type": "object", "properties": {"ms": {"type": "integer"}}});
        let mut t = Tool::new(
            name.to_owned(),
            "",
            Arc::new(schema.as_object().cloned().unwrap()),
        );
        match name {
            "echo" | "hang" | "write" => {}
            "safe" => {
                let mut a = ToolAnnotations::default();
                a.idempotent_hint = Some(true);
                t.annotations = Some(a);
            }
            "strict" => {
                let s = json!({"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}});
                t.input_schema = Arc::new(s.as_object().cloned().unwrap());
            }
            _ => return None,
        }
        Some(t)
    }
}

struct Harness {
    jobs: Arc<Jobs>,
    fake: Arc<Fake>,
    stop: CancellationToken,
    tracker: TaskTracker,
}

impl Harness {
    async fn stop(self) {
        self.stop.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

fn config(types: &[(&str, JobTarget, bool)], max: usize) -> JobsConfig {
    let mut c = JobsConfig {
        max_concurrent: max,
        ..JobsConfig::default()
    };
    for (name, target, idempotent) in types {
        c.types.insert(
            (*name).into(),
            JobType {
                target: target.clone(),
                timeout: Some(Duration::from_secs(2)),
                idempotent: *idempotent,
                description: None,
            },
        );
    }
    c
}

async fn harness(
    url: &str,
    dir: &Path,
    config: JobsConfig,
    clock: Arc<dyn crate::engine::clock::Clock>,
) -> Harness {
    let store = Store::open(url).await.unwrap();
    let fake = Arc::new(Fake::default());
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    let limits = Limits {
        max_runs: 10,
        max_steps: 10,
        resources: ResourceLimits {
            cpu: 2.0,
            memory_mb: 100,
        },
        lease_ttl: Duration::from_secs(5),
    };
    let engine = Engine::new(
        store.clone(),
        fake.clone(),
        clock.clone(),
        limits,
        tracker.clone(),
        stop.clone(),
        crate::shutdown::Drain::under(&stop),
    );
    let yaml =
        "name: pipeline\nversion: '1'\nsteps:\n  - name: a\n    tool: echo\n    params: {x: 1}\n";
    let def = parse(Path::new("p.yaml"), yaml, &World::permissive()).unwrap();
    engine.set_definitions(Definitions::new(Loaded {
        definitions: vec![def],
        errors: Vec::new(),
    }));
    engine.start();
    let artifacts = Artifacts::new(store, dir.join("artifacts"));
    engine.set_artifacts(artifacts.clone());
    let jobs = Jobs::new(Parts {
        artifacts,
        caller: fake.clone(),
        engine,
        clock,
        config,
        lease_ttl: Duration::from_secs(5),
        tracker: tracker.clone(),
        shutdown: stop.clone(),
        drain: crate::shutdown::Drain::under(&stop),
    });
    jobs.set_tools(Arc::new(Index));
    jobs.start();
    Harness {
        jobs,
        fake,
        stop,
        tracker,
    }
}

/// An inline artifact named `model`.
async fn model(h: &Harness) -> crate::report::ArtifactReport {
    let model = crate::artifacts::NewArtifact {
        name: "model".into(),
        content: Some(b"w".to_vec()),
        ..Default::default()
    };
    h.jobs.artifacts().register(model, 1).await.unwrap()
}

async fn wait(jobs: &Jobs, id: &str) -> crate::report::JobReport {
    tokio::time::timeout(
        Duration::from_secs(20),
        jobs.wait(id, &CancellationToken::new()),
    )
    .await
    .expect("the job ended in time")
    .unwrap()
}

both!(
    tool_jobs_complete_with_their_artifacts,
    workflow_jobs_run_the_workflow_under_the_jobs_id,
    bad_submissions_store_nothing,
    workflow_steps_read_and_make_artifacts,
    cancelling_a_workflow_job_compensates_its_run,
    cancel_reaches_pending_and_running_jobs,
    the_pool_is_bounded_and_priority_ordered,
    after_a_crash_only_safe_jobs_run_again,
    finished_jobs_are_removed_after_their_ttl,
    services_down_slow_or_garbled_fail_clearly,
);

async fn tool_jobs_complete_with_their_artifacts(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(&url, dir.path(), config(&[], 4), Arc::new(SystemClock)).await;
    let model = model(&h).await;
    let job = h
        .jobs
        .submit(json!({"tool": "echo", "arguments": {"attach": true, "model": format!("artifact://{}", model.id)}, "metadata": {"who": "test"}}))
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Pending);
    assert_eq!(job.inputs, std::slice::from_ref(&model.id));
    let done = wait(&h.jobs, &job.job_id).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    let result = done.result.unwrap();
    assert_eq!(
        result["model"]["name"], "model",
        "the reference was resolved"
    );
    assert_eq!(done.artifacts.len(), 1);
    let made = h.jobs.artifacts().get(&done.artifacts[0]).await.unwrap();
    assert_eq!(made.name, "report.md");
    assert_eq!(made.job_id.as_deref(), Some(job.job_id.as_str()));
    assert_eq!(made.dependencies, std::slice::from_ref(&model.id));
    let lineage = h.jobs.artifacts().lineage(&model.id).await.unwrap();
    assert_eq!(lineage.descendants[0].id, made.id);
    assert!(done.started_at.is_some() && done.finished_at.is_some());
    assert_eq!(done.attempts, 1);
    h.stop().await;
}

async fn workflow_jobs_run_the_workflow_under_the_jobs_id(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(
        &url,
        dir.path(),
        config(
            &[("backtest", JobTarget::Workflow("pipeline".into()), false)],
            4,
        ),
        Arc::new(SystemClock),
    )
    .await;
    let job = h
        .jobs
        .submit(json!({"type": "backtest", "payload": {}}))
        .await
        .unwrap();
    let done = wait(&h.jobs, &job.job_id).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    assert_eq!(done.result.unwrap()["a"]["x"], 1);
    let run = h.jobs.store.run(&job.job_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    h.stop().await;
}

async fn workflow_steps_read_and_make_artifacts(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(&url, dir.path(), config(&[], 4), Arc::new(SystemClock)).await;
    let model = model(&h).await;
    let yaml = format!(
        "name: made\nversion: '1'\nsteps:\n  - name: a\n    tool: echo\n    params: {{attach: true, model: '$artifacts.{}'}}\n",
        model.id
    );
    let def = parse(Path::new("m.yaml"), &yaml, &World::permissive()).unwrap();
    h.jobs.engine.set_definitions(Definitions::new(Loaded {
        definitions: vec![def],
        errors: Vec::new(),
    }));
    let job = h.jobs.submit(json!({"workflow": "made"})).await.unwrap();
    let done = wait(&h.jobs, &job.job_id).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    assert_eq!(done.result.unwrap()["a"]["model"]["name"], "model");
    let filter = crate::store::ArtifactFilter {
        run_id: Some(job.job_id.clone()),
        ..Default::default()
    };
    let made = h.jobs.artifacts().list(&filter).await.unwrap();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].step.as_deref(), Some("a"));
    assert_eq!(made[0].dependencies, std::slice::from_ref(&model.id));
    h.stop().await;
}

async fn cancelling_a_workflow_job_compensates_its_run(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(&url, dir.path(), config(&[], 4), Arc::new(SystemClock)).await;
    let yaml = "name: long\nversion: '1'\nsteps:\n  - name: a\n    tool: echo\n    compensation: {tool: safe}\n  - name: b\n    tool: hang\n    dependsOn: [a]\n";
    let def = parse(Path::new("l.yaml"), yaml, &World::permissive()).unwrap();
    h.jobs.engine.set_definitions(Definitions::new(Loaded {
        definitions: vec![def],
        errors: Vec::new(),
    }));
    let job = h.jobs.submit(json!({"workflow": "long"})).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while h.fake.count("hang") == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    h.jobs.cancel(&job.job_id).await.unwrap();
    let done = wait(&h.jobs, &job.job_id).await;
    assert_eq!(done.status, JobStatus::Cancelled, "{done:?}");
    let run = h.jobs.store.run(&job.job_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(h.fake.count("safe"), 1, "step a was compensated");
    h.stop().await;
}

async fn bad_submissions_store_nothing(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(&url, dir.path(), config(&[], 4), Arc::new(SystemClock)).await;
    let cases = [
        (json!({"type": "nope"}), "unknown job type `nope`"),
        (json!({"tool": "missing"}), "unknown tool `missing`"),
        (json!({"workflow": "missing"}), "unknown workflow `missing`"),
        (
            json!({"tool": "strict", "arguments": {"text": 3}}),
            "invalid arguments for tool `strict`: `text` must be of type",
        ),
        (
            json!({"tool": "echo", "arguments": {"m": "artifact://nope"}}),
            "unknown artifact `nope`",
        ),
    ];
    for (submission, message) in cases {
        let e = h.jobs.submit(submission).await.unwrap_err();
        assert!(e.to_string().starts_with(message), "{e}");
    }
    assert!(h.jobs.list(&JobFilter::default()).await.unwrap().is_empty());
    h.stop().await;
}

async fn cancel_reaches_pending_and_running_jobs(url: String) {
    let dir = tempfile::tempdir().unwrap();
    // One slot: the first job holds it, the second waits pending.
    let h = harness(&url, dir.path(), config(&[], 1), Arc::new(SystemClock)).await;
    let running = h.jobs.submit(json!({"tool": "hang"})).await.unwrap();
    let pending = h.jobs.submit(json!({"tool": "echo"})).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while h.fake.count("hang") == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let p = h.jobs.cancel(&pending.job_id).await.unwrap();
    assert_eq!(p.status, JobStatus::Cancelled);
    h.jobs.cancel(&running.job_id).await.unwrap();
    let r = wait(&h.jobs, &running.job_id).await;
    assert_eq!(r.status, JobStatus::Cancelled, "{r:?}");
    let e = h.jobs.cancel(&running.job_id).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("job `{}` has already ended (cancelled)", running.job_id)
    );
    // The cancelled pending job never ran.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.fake.count("echo"), 0);
    h.stop().await;
}

async fn the_pool_is_bounded_and_priority_ordered(url: String) {
    let dir = tempfile::tempdir().unwrap();
    // One slot: the first job takes it at once; the rest wait and are taken by priority.
    let h = harness(&url, dir.path(), config(&[], 1), Arc::new(SystemClock)).await;
    let mut ids = Vec::new();
    for p in 0..5 {
        let j = h
            .jobs
            .submit(json!({"tool": "echo", "arguments": {"ms": 50, "p": p}, "priority": p}))
            .await
            .unwrap();
        ids.push(j.job_id);
    }
    for id in &ids {
        assert_eq!(wait(&h.jobs, id).await.status, JobStatus::Completed);
    }
    assert_eq!(h.fake.peak.load(Ordering::SeqCst), 1);
    assert_eq!(*h.fake.order.lock().unwrap(), [0, 4, 3, 2, 1]);
    h.stop().await;
}

async fn after_a_crash_only_safe_jobs_run_again(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(1_000_000);
    // A first process: it takes three jobs, then "dies" (its tasks stop, its leases stay).
    let first = harness(&url, dir.path(), config(&[], 4), clock.clone()).await;
    clock.advance(1);
    let mut ids = Vec::new();
    for tool in ["write", "safe", "hang"] {
        let args = json!({"ms": 60_000});
        ids.push(
            first
                .jobs
                .submit(json!({"tool": tool, "arguments": args}))
                .await
                .unwrap()
                .job_id,
        );
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while first.fake.running.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    // The process stops with the jobs mid-call: they stay `running` in the store, as after a
    // crash (a kill leaves its leases to expire; a stop hands them back at once, and the next
    // process judges them the same way).
    first.stop().await;
    let second = harness(&url, dir.path(), config(&[], 4), clock.clone()).await;
    let write = wait(&second.jobs, &ids[0]).await;
    assert_eq!(write.status, JobStatus::Failed);
    assert!(
        write
            .error
            .as_deref()
            .unwrap()
            .contains("not marked idempotent"),
        "{write:?}"
    );
    assert_eq!(second.fake.count("write"), 0, "not repeated");
    // The idempotent one ran again, to completion (the fake's sleep is cut by nothing: 60 s is
    // too long for a test, so it is cancelled through the job instead, and must be running).
    tokio::time::timeout(Duration::from_secs(10), async {
        while second.fake.count("safe") == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let safe = second.jobs.get(&ids[1]).await.unwrap();
    assert_eq!((safe.status, safe.attempts), (JobStatus::Running, 2));
    second.stop().await;
}

async fn finished_jobs_are_removed_after_their_ttl(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(5_000);
    let h = harness(&url, dir.path(), config(&[], 4), clock.clone()).await;
    let short = h
        .jobs
        .submit(json!({"tool": "echo", "ttl": 1}))
        .await
        .unwrap();
    let long = h.jobs.submit(json!({"tool": "echo"})).await.unwrap();
    wait(&h.jobs, &short.job_id).await;
    wait(&h.jobs, &long.job_id).await;
    clock.advance(2_000);
    assert_eq!(h.jobs.store.sweep_jobs(clock.now_ms()).await.unwrap(), 1);
    assert!(matches!(
        h.jobs.get(&short.job_id).await,
        Err(super::JobError::UnknownJob(_))
    ));
    h.jobs.get(&long.job_id).await.unwrap();
    h.stop().await;
}

/// A real HTTP service on a free port: `/ok/execute` completes with an artifact, `/slow/execute`
/// never answers in time, `/garbage/execute` answers HTML, `/fail/execute` reports failure.
async fn service() -> String {
    let app = Router::new()
        .route(
            "/ok/execute",
            post(|body: String| async move {
                let req: Value = serde_json::from_str(&body).unwrap();
                axum::Json(json!({
                    "status": "completed",
                    "result": {"echo": req["payload"], "job": req["job_id"], "type": req["type"]},
                    "artifacts": [{"name": "model.bin", "type": "model", "storage_location": "s3://b/model.bin",
                        "checksum": format!("sha256:{}", "a".repeat(64)), "size_bytes": 10, "tags": ["ml"]}]
                }))
            }),
        )
        .route(
            "/slow/execute",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route("/garbage/execute", post(|| async { "<html>oops</html>" }))
        .route(
            "/fail/execute",
            post(|| async { axum::Json(json!({"status": "failed", "error": "diverged"})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    TaskTracker::new().spawn(async move {
        let _ = hyper_serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Serves an axum router on a listener with hyper (the crate does not enable axum's server).
async fn hyper_serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let app = app.clone();
        TaskTracker::new().spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    tower::ServiceExt::oneshot(app.clone(), req.map(axum::body::Body::new))
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn services_down_slow_or_garbled_fail_clearly(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let base = service().await;
    let types = [
        ("ok", JobTarget::Service(format!("{base}/ok")), false),
        ("slow", JobTarget::Service(format!("{base}/slow")), false),
        (
            "garbage",
            JobTarget::Service(format!("{base}/garbage")),
            false,
        ),
        ("fail", JobTarget::Service(format!("{base}/fail")), false),
        (
            "down",
            JobTarget::Service("http://127.0.0.1:9".into()),
            false,
        ),
        (
            "creds",
            JobTarget::Service("http://bob:hunter2@127.0.0.1:9/x?token=hunter2".into()),
            false,
        ),
    ];
    let h = harness(&url, dir.path(), config(&types, 8), Arc::new(SystemClock)).await;
    let mut ids = BTreeMap::new();
    for (name, ..) in &types {
        let j = h
            .jobs
            .submit(json!({"type": name, "payload": {"lr": 0.1}, "metadata": {"by": "test"}}))
            .await
            .unwrap();
        ids.insert(*name, j.job_id);
    }
    let ok = wait(&h.jobs, &ids["ok"]).await;
    assert_eq!(ok.status, JobStatus::Completed, "{ok:?}");
    let result = ok.result.unwrap();
    assert_eq!(result["echo"]["lr"], 0.1);
    assert_eq!(result["job"], json!(ids["ok"]));
    assert_eq!(result["type"], "ok");
    let model = h.jobs.artifacts().get(&ok.artifacts[0]).await.unwrap();
    assert_eq!(model.service_id.as_deref(), Some("ok"));
    assert_eq!(model.storage_location, "s3://b/model.bin");
    let expect = [
        ("slow", "did not answer within 2 s"),
        ("garbage", "answered outside the execute contract"),
        ("fail", "reports the job failed: diverged"),
        ("down", "is unreachable"),
        (
            "creds",
            "service http://***@127.0.0.1:9/x?*** is unreachable",
        ),
    ];
    for (name, message) in expect {
        let j = wait(&h.jobs, &ids[name]).await;
        assert_eq!(j.status, JobStatus::Failed, "{name}");
        let e = j.error.unwrap();
        assert!(e.contains(message), "{name}: {e}");
        assert!(
            !e.contains("hunter2") && !j.target.contains("hunter2"),
            "{}",
            j.target
        );
    }
    h.stop().await;
}
