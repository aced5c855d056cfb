//! The engine over an in-memory tool fake, on both stores: every case runs on an SQLite file and
//! on a fresh PostgreSQL database.

use std::{
    collections::HashMap,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, Tool, ToolAnnotations};
use serde_json::{Value, json};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    Definitions, Engine, Limits, Submit,
    clock::{ManualClock, SystemClock},
};
use crate::{
    config::ResourceLimits,
    dispatch::{
        BoxFuture, CallContext, CallOutcome, CallRequest, Catalog, ServerView, ToolCaller, ToolRef,
    },
    error::RouteError,
    report::{EventKind, RunReport, RunStatus, ServerState, StepStatus},
    store::{
        Lease, Request, StepUpdate, Store,
        testing::{self, both},
    },
    workflow::{Loaded, World, parse},
};

/// A tool fake. Tools (all on server `s`): `ok` returns its arguments; `slow` sleeps `ms` then
/// returns them; `fail` is an error result; `flaky` fails until its `n`th call; `hang` waits for
/// cancellation. Counts calls per `label` argument and the most calls at once.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<String>>,
    per_label: Mutex<HashMap<String, usize>>,
    flaky: AtomicUsize,
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Fake {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn count(&self, label: &str) -> usize {
        self.per_label
            .lock()
            .unwrap()
            .get(label)
            .copied()
            .unwrap_or(0)
    }
}

impl ToolCaller for Fake {
    fn catalog(&self) -> Catalog {
        let tool = |name: &str, safe: bool| {
            let mut t = Tool::new(name.to_owned(), "", Arc::new(Default::default()));
            if safe {
                let mut a = ToolAnnotations::default();
                a.idempotent_hint = Some(true);
                t.annotations = Some(a);
            }
            t
        };
        Catalog {
            tools: Arc::default(),
            servers: vec![ServerView {
                id: "s".into(),
                state: ServerState::Running,
                missing_env: Vec::new(),
                last_error: None,
                draining: false,
                tools: Arc::new(vec![
                    tool("ok", false),
                    tool("safe", true),
                    tool("slow", false),
                ]),
                capabilities: Arc::from(["work".to_owned()]),
            }],
        }
    }

    fn call<'a>(
        &'a self,
        request: CallRequest,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<CallOutcome, RouteError>> {
        Box::pin(async move {
            let ToolRef::Child { tool, .. } = request.tool else {
                panic!("only child tools in these tests");
            };
            let args = Value::Object(request.arguments.unwrap_or_default());
            let label = args["label"].as_str().unwrap_or(&tool).to_owned();
            self.calls.lock().unwrap().push(label.clone());
            *self.per_label.lock().unwrap().entry(label).or_default() += 1;
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            let ms = args["ms"].as_u64().unwrap_or(0);
            let result = match tool.as_str() {
                "ok" | "safe" | "slow" => {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(ms)) => {}
                        () = cx.cancel.cancelled() => {}
                    }
                    let mut r = CallToolResult::success(vec![ContentBlock::text("ok")]);
                    r.structured_content = Some(args);
                    r
                }
                "flaky" => {
                    let n = self.flaky.fetch_add(1, Ordering::SeqCst) + 1;
                    if n < args["n"].as_u64().unwrap_or(1) as usize {
                        CallToolResult::error(vec![ContentBlock::text(format!(
                            "flaky failure {n}"
                        ))])
                    } else {
                        CallToolResult::success(vec![ContentBlock::text("{\"flaky\": true}")])
                    }
                }
                "task" => {
                    self.now.fetch_sub(1, Ordering::SeqCst);
                    let task = rmcp::model::Task::new(
                        "child-task-7",
                        rmcp::model::TaskStatus::Working,
                        "2026-11-29T00:00:00Z",
                        "2026-11-29T00:00:00Z",
                    );
                    return Ok(CallToolResponse::Task(rmcp::model::CreateTaskResult::new(
                        task,
                    )));
                }
                "hang" => {
                    cx.cancel.cancelled().await;
                    CallToolResult::error(vec![ContentBlock::text("cancelled")])
                }
                _ => CallToolResult::error(vec![ContentBlock::text(format!("{tool} failed"))]),
            };
            self.now.fetch_sub(1, Ordering::SeqCst);
            Ok(CallToolResponse::Complete(result))
        })
    }

    fn wait_settled<'a>(&'a self, _server: &'a str, _limit: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

struct Harness {
    engine: Arc<Engine>,
    fake: Arc<Fake>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Harness {
    async fn new(url: &str, workflows: &[&str]) -> Self {
        Self::with(url, workflows, Arc::new(Fake::default()), limits(50)).await
    }

    async fn with(url: &str, workflows: &[&str], fake: Arc<Fake>, limits: Limits) -> Self {
        let store = Store::open(url).await.unwrap();
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let engine = Engine::new(
            store,
            fake.clone(),
            Arc::new(SystemClock),
            limits,
            tracker.clone(),
            shutdown.clone(),
            crate::shutdown::Drain::under(&shutdown),
        );
        engine.set_definitions(definitions(workflows));
        engine.start();
        Self {
            engine,
            fake,
            shutdown,
            tracker,
        }
    }

    async fn run(&self, name: &str, input: Value) -> RunReport {
        let id = self
            .engine
            .submit(name, input, Submit::default())
            .await
            .unwrap();
        self.wait(&id).await
    }

    async fn wait(&self, id: &str) -> RunReport {
        tokio::time::timeout(
            Duration::from_secs(20),
            self.engine.wait(id, &CancellationToken::new()),
        )
        .await
        .expect("the run ends")
        .unwrap()
    }

    async fn events(&self, id: &str) -> Vec<(EventKind, Option<String>)> {
        self.engine
            .events(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.step))
            .collect()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

fn limits(max_steps: usize) -> Limits {
    Limits {
        max_runs: 100,
        max_steps,
        resources: ResourceLimits {
            cpu: 2.0,
            memory_mb: 1000,
        },
        lease_ttl: Duration::from_secs(5),
    }
}

fn definitions(yaml: &[&str]) -> Definitions {
    let mut loaded = Loaded {
        definitions: Vec::new(),
        errors: Vec::new(),
    };
    for (i, text) in yaml.iter().enumerate() {
        let file = format!("w{i}.yaml");
        loaded
            .definitions
            .push(parse(Path::new(&file), text, &World::permissive()).unwrap());
    }
    Definitions::new(loaded)
}

fn step_states(r: &RunReport) -> Vec<(&str, StepStatus)> {
    r.steps
        .iter()
        .map(|s| (s.name.as_str(), s.status))
        .collect()
}

const DIAMOND: &str = r#"
name: diamond
version: "1"
input:
  type: object
  required: [x]
steps:
  - {name: a, mcp: s, action: ok, params: {label: a, x: $input.x}}
  - {name: b, mcp: s, action: ok, params: {label: b, from_a: $steps.a.result.x}, dependsOn: [a]}
  - {name: c, mcp: s, action: ok, params: {label: c, text: "x is ${steps.a.result.x}"}, dependsOn: [a]}
  - {name: d, mcp: s, action: ok, params: {label: d, b: $steps.b.result.from_a, c: $steps.c.result.text}, dependsOn: [b, c]}
output: {b: $steps.b.result.from_a, c: $steps.d.result.c}
"#;

both!(
    a_diamond_runs_each_step_once_in_dependency_order,
    a_failure_compensates_completed_steps_in_reverse_completion_order,
    a_failed_compensation_is_recorded_and_reported,
    false_conditions_skip_steps_and_their_dependants,
    retries_until_the_tool_succeeds,
    cancel_stops_running_steps_and_compensates,
    pause_holds_new_steps_until_resume,
    the_deadline_fails_the_run,
    a_crashed_run_resumes_without_repeating_unsafe_steps,
    two_engines_on_one_store_never_run_a_step_twice,
    a_paused_run_stays_paused_across_a_restart,
    queued_runs_start_by_priority,
    a_live_lease_on_another_host_is_waited_out_until_it_expires,
    a_child_task_answer_fails_the_step_and_keeps_the_task_id,
);

async fn a_live_lease_on_another_host_is_waited_out_until_it_expires(url: String) {
    let wf = r#"
name: one
version: "1"
steps:
  - {name: a, mcp: s, action: ok, params: {label: a}}
"#;
    let defs = definitions(&[wf]);
    let def = defs.get("one").unwrap();
    let store = Store::open(&url).await.unwrap();
    let held = super::enqueue(&store, def, &json!({}), 0, 1_000)
        .await
        .unwrap();
    // Another replica, on another host, holds it until 11_000 on the shared clock.
    store
        .claim(&held, "elsewhere/42/1", 1_000, 10_000, &[])
        .await
        .unwrap()
        .unwrap();

    let clock = ManualClock::at(5_000);
    let fake = Arc::new(Fake::default());
    let mut quick = limits(50);
    quick.lease_ttl = Duration::from_millis(300);
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let engine = Engine::new(
        store,
        fake.clone(),
        clock.clone(),
        quick,
        tracker.clone(),
        shutdown.clone(),
        crate::shutdown::Drain::under(&shutdown),
    );
    engine.set_definitions(defs);
    engine.start();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(fake.count("a"), 0, "a live lease is not taken");
    assert_eq!(
        engine.report(&held).await.unwrap().status,
        RunStatus::Pending
    );

    clock.advance(10_000);
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        engine.wait(&held, &CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(fake.count("a"), 1);
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
}

async fn a_paused_run_stays_paused_across_a_restart(url: String) {
    let wf = r#"
name: pausable
version: "1"
steps:
  - {name: a, mcp: s, action: slow, params: {label: a, ms: 200}}
  - {name: b, mcp: s, action: ok, params: {label: b, a: $steps.a.result.label}, dependsOn: [a]}
"#;
    let fake = Arc::new(Fake::default());
    let first = Harness::with(&url, &[wf], fake.clone(), limits(50)).await;
    let id = first
        .engine
        .submit("pausable", json!({}), Submit::default())
        .await
        .unwrap();
    wait_for(|| fake.count("a") == 1).await;
    first.engine.control(&id, Request::Pause).await.unwrap();
    for _ in 0..100 {
        let r = first.engine.report(&id).await.unwrap();
        if r.status == RunStatus::Paused && r.steps[0].status == StepStatus::Completed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.stop().await;

    let second = Harness::with(&url, &[wf], fake.clone(), limits(50)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = second.engine.report(&id).await.unwrap();
    assert_eq!(r.status, RunStatus::Paused, "{r:?}");
    assert_eq!(fake.count("b"), 0);
    second.engine.control(&id, Request::Resume).await.unwrap();
    let r = second.wait(&id).await;
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!((fake.count("a"), fake.count("b")), (1, 1));
    assert_eq!(r.output.unwrap()["b"]["a"], "a");
    second.stop().await;
}

async fn queued_runs_start_by_priority(url: String) {
    let wf = r#"
name: one
version: "1"
steps:
  - {name: a, mcp: s, action: slow, params: {label: "${input.label}", ms: 300}}
"#;
    let fake = Arc::new(Fake::default());
    let mut one_run = limits(50);
    one_run.max_runs = 1;
    let h = Harness::with(&url, &[wf], fake.clone(), one_run).await;
    let submit = |label: &str, priority| {
        let engine = h.engine.clone();
        let input = json!({"label": label});
        async move {
            engine
                .submit(
                    "one",
                    input,
                    Submit {
                        priority,
                        progress: None,
                        id: None,
                    },
                )
                .await
                .unwrap()
        }
    };
    let first = submit("first", 0).await;
    wait_for(|| fake.count("first") == 1).await;
    let low = submit("low", 1).await;
    let high = submit("high", 9).await;
    for id in [&first, &low, &high] {
        assert_eq!(h.wait(id).await.status, RunStatus::Completed);
    }
    assert_eq!(
        fake.calls(),
        ["first", "high", "low"],
        "waiting runs go by priority"
    );
    h.stop().await;
}

async fn a_diamond_runs_each_step_once_in_dependency_order(url: String) {
    let h = Harness::new(&url, &[DIAMOND]).await;
    let r = h.run("diamond", json!({"x": 7})).await;
    assert_eq!(r.status, RunStatus::Completed, "{r:?}");
    assert_eq!(r.output, Some(json!({"b": 7, "c": "x is 7"})));
    let calls = h.fake.calls();
    assert_eq!(calls.len(), 4);
    assert_eq!((calls[0].as_str(), calls[3].as_str()), ("a", "d"));
    assert!(
        r.steps
            .iter()
            .all(|s| s.status == StepStatus::Completed && s.attempts == 1)
    );
    let kinds: Vec<EventKind> = h.events(&r.run_id).await.into_iter().map(|e| e.0).collect();
    assert_eq!(kinds.first(), Some(&EventKind::WorkflowStarted));
    assert_eq!(kinds.last(), Some(&EventKind::WorkflowCompleted));
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == EventKind::StepCompleted)
            .count(),
        4
    );
    let missing = h
        .engine
        .submit("diamond", json!({}), Submit::default())
        .await;
    assert!(missing.unwrap_err().to_string().contains("missing x"));
    h.stop().await;
}

const SAGA: &str = r#"
name: saga
version: "1"
steps:
  - {name: a, mcp: s, action: ok, params: {label: a}, compensation: {action: ok, params: {label: undo_a}}}
  - {name: b, mcp: s, action: ok, params: {label: b, ms: 50}, dependsOn: [a], compensation: {action: ok, params: {label: "undo_b_${steps.b.result.label}"}}}
  - {name: n, mcp: s, action: ok, params: {label: n}, dependsOn: [a]}
  - {name: c, mcp: s, action: fail, params: {label: c}, dependsOn: [b]}
  - {name: d, mcp: s, action: ok, params: {label: d}, dependsOn: [c], compensation: {action: ok, params: {label: undo_d}}}
"#;

async fn a_failure_compensates_completed_steps_in_reverse_completion_order(url: String) {
    let h = Harness::new(&url, &[SAGA]).await;
    let r = h.run("saga", json!({})).await;
    assert_eq!(r.status, RunStatus::Compensated, "{r:?}");
    assert!(
        r.error.as_deref().unwrap().contains("step `c` failed"),
        "{r:?}"
    );
    let calls = h.fake.calls();
    let undo: Vec<&str> = calls
        .iter()
        .map(String::as_str)
        .filter(|c| c.starts_with("undo"))
        .collect();
    assert_eq!(
        undo,
        ["undo_b_b", "undo_a"],
        "b completed after a: undone first"
    );
    assert_eq!(
        step_states(&r),
        [
            ("a", StepStatus::Compensated),
            ("b", StepStatus::Compensated),
            ("n", StepStatus::Completed),
            ("c", StepStatus::Failed),
            ("d", StepStatus::Cancelled),
        ]
    );
    let events = h.events(&r.run_id).await;
    assert!(events.contains(&(EventKind::WorkflowCompensationStarted, None)));
    assert!(events.contains(&(EventKind::StepCompensated, Some("a".into()))));
    h.stop().await;
}

async fn a_failed_compensation_is_recorded_and_reported(url: String) {
    let wf = r#"
name: badundo
version: "1"
steps:
  - {name: a, mcp: s, action: ok, params: {label: a}, compensation: {action: fail, params: {label: undo_a}, retries: 1}}
  - {name: c, mcp: s, action: fail, dependsOn: [a]}
"#;
    let h = Harness::new(&url, &[wf]).await;
    let r = h.run("badundo", json!({})).await;
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(r.steps[0].status, StepStatus::CompensationFailed);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("compensation failed for a"),
        "{r:?}"
    );
    assert_eq!(h.fake.count("undo_a"), 2, "retried once");
    h.stop().await;
}

async fn a_child_task_answer_fails_the_step_and_keeps_the_task_id(url: String) {
    let wf = r#"
name: tasky
version: "1"
steps:
  - {name: t, mcp: s, action: task, retries: 2}
"#;
    let h = Harness::new(&url, &[wf]).await;
    let r = h.run("tasky", json!({})).await;
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(r.steps[0].attempts, 1, "a task answer is not retried");
    assert!(
        r.steps[0]
            .error
            .as_deref()
            .unwrap()
            .contains("child-task-7")
    );
    let store = h.engine.store().clone();
    let steps = store.steps(&r.run_id).await.unwrap();
    assert_eq!(steps[0].task_id.as_deref(), Some("child-task-7"));
    h.stop().await;
}

async fn false_conditions_skip_steps_and_their_dependants(url: String) {
    let wf = r#"
name: cond
version: "1"
steps:
  - {name: a, mcp: s, action: ok, params: {label: a, opted_in: false, score: 7}}
  - {name: b, mcp: s, action: ok, params: {label: b}, dependsOn: [a], condition: $steps.a.result.opted_in}
  - {name: b2, mcp: s, action: ok, params: {label: b2}, dependsOn: [b]}
  - {name: c, mcp: s, action: ok, params: {label: c}, dependsOn: [a], condition: "steps.a.result.score > 5"}
"#;
    let h = Harness::new(&url, &[wf]).await;
    let r = h.run("cond", json!({})).await;
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(
        step_states(&r),
        [
            ("a", StepStatus::Completed),
            ("b", StepStatus::Skipped),
            ("b2", StepStatus::Skipped),
            ("c", StepStatus::Completed),
        ]
    );
    h.stop().await;
}

async fn retries_until_the_tool_succeeds(url: String) {
    let wf = r#"
name: flaky
version: "1"
steps:
  - {name: f, mcp: s, action: flaky, params: {n: 3}, retries: 2}
"#;
    let h = Harness::new(&url, &[wf]).await;
    let r = h.run("flaky", json!({})).await;
    assert_eq!(r.status, RunStatus::Completed, "{r:?}");
    assert_eq!(r.steps[0].attempts, 3);
    assert_eq!(r.steps[0].output, Some(json!({"flaky": true})));
    let failed = h
        .events(&r.run_id)
        .await
        .into_iter()
        .filter(|e| e.0 == EventKind::StepFailed)
        .count();
    assert_eq!(failed, 2, "one event per failed attempt");
    h.stop().await;
}

async fn cancel_stops_running_steps_and_compensates(url: String) {
    let wf = r#"
name: cancelme
version: "1"
steps:
  - {name: a, mcp: s, action: ok, params: {label: a}, compensation: {action: ok, params: {label: undo_a}}}
  - {name: h, mcp: s, action: hang, dependsOn: [a]}
  - {name: z, mcp: s, action: ok, params: {label: z}, dependsOn: [h]}
"#;
    let h = Harness::new(&url, &[wf]).await;
    let id = h
        .engine
        .submit("cancelme", json!({}), Submit::default())
        .await
        .unwrap();
    wait_for(|| h.fake.count("hang") == 1).await;
    h.engine.control(&id, Request::Cancel).await.unwrap();
    let r = h.wait(&id).await;
    assert_eq!(r.status, RunStatus::Cancelled);
    assert_eq!(
        step_states(&r),
        [
            ("a", StepStatus::Compensated),
            ("h", StepStatus::Cancelled),
            ("z", StepStatus::Cancelled),
        ]
    );
    assert_eq!(h.fake.count("z"), 0);
    let again = h.engine.control(&id, Request::Cancel).await;
    assert!(again.unwrap_err().to_string().contains("already ended"));
    h.stop().await;
}

async fn pause_holds_new_steps_until_resume(url: String) {
    let wf = r#"
name: pausable
version: "1"
steps:
  - {name: a, mcp: s, action: slow, params: {label: a, ms: 300}}
  - {name: b, mcp: s, action: ok, params: {label: b}, dependsOn: [a]}
"#;
    let h = Harness::new(&url, &[wf]).await;
    let id = h
        .engine
        .submit("pausable", json!({}), Submit::default())
        .await
        .unwrap();
    wait_for(|| h.fake.count("a") == 1).await;
    h.engine.control(&id, Request::Pause).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = h.engine.report(&id).await.unwrap();
    assert_eq!(r.status, RunStatus::Paused);
    assert_eq!(
        r.steps[0].status,
        StepStatus::Completed,
        "the running step finished"
    );
    assert_eq!(h.fake.count("b"), 0, "no new step while paused");
    h.engine.control(&id, Request::Resume).await.unwrap();
    let r = h.wait(&id).await;
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(h.fake.count("b"), 1);
    h.stop().await;
}

async fn the_deadline_fails_the_run(url: String) {
    let wf = r#"
name: late
version: "1"
timeout: 300ms
steps:
  - {name: h, mcp: s, action: hang}
"#;
    let h = Harness::new(&url, &[wf]).await;
    let r = h.run("late", json!({})).await;
    assert_eq!(r.status, RunStatus::Failed);
    assert!(r.error.as_deref().unwrap().contains("timeout"), "{r:?}");
    assert_eq!(r.steps[0].status, StepStatus::Cancelled);
    h.stop().await;
}

/// Writes a run as a process that died mid-way would have left it: `a` completed, `unsafe` and
/// `safe` running, under a lease held by a process that is gone.
async fn crashed_run(store: &Store, def: &crate::workflow::Definition) -> String {
    let id = super::enqueue(store, def, &json!({}), 0, 1).await.unwrap();
    // A holder on this host whose pid does not exist.
    let host = super::owner::this_host();
    let dead = format!("{host}/{}/1", i32::MAX - 3);
    let lease: Lease = store
        .claim(&id, &dead, 1, 60_000_000_000_000, &[])
        .await
        .unwrap()
        .unwrap();
    let step = |name, status, output: Option<&'static Value>| StepUpdate {
        name,
        status,
        attempts: Some(1),
        output,
        error: None,
        task_id: None,
        now: 2,
    };
    static A: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| json!({"label": "a"}));
    store
        .set_step(&lease, &step("a", StepStatus::Running, None))
        .await
        .unwrap();
    store
        .set_step(&lease, &step("a", StepStatus::Completed, Some(&A)))
        .await
        .unwrap();
    for name in ["unsafe", "safe"] {
        store
            .set_step(&lease, &step(name, StepStatus::Running, None))
            .await
            .unwrap();
    }
    id
}

async fn a_crashed_run_resumes_without_repeating_unsafe_steps(url: String) {
    let repeatable = r#"
name: repeatable
version: "1"
steps:
  - {name: a, mcp: s, action: ok, params: {label: a}}
  - {name: unsafe, mcp: s, action: ok, params: {label: unsafe}, dependsOn: [a], idempotent: true}
  - {name: safe, mcp: s, action: safe, params: {label: safe}, dependsOn: [a]}
  - {name: last, mcp: s, action: ok, params: {label: last, a: $steps.a.result.label}, dependsOn: [unsafe, safe]}
"#;
    let risky = r#"
name: risky
version: "1"
steps:
  - {name: a, mcp: s, action: ok, params: {label: a}, compensation: {action: ok, params: {label: undo_a}}}
  - {name: unsafe, mcp: s, action: ok, params: {label: risky_unsafe}, dependsOn: [a]}
  - {name: safe, mcp: s, action: safe, params: {label: risky_safe}, dependsOn: [a]}
"#;
    let store = Store::open(&url).await.unwrap();
    let defs = definitions(&[repeatable, risky]);
    let repeatable_run = crashed_run(&store, defs.get("repeatable").unwrap()).await;
    let risky_run = crashed_run(&store, defs.get("risky").unwrap()).await;
    store.close().await;

    let h = Harness::new(&url, &[repeatable, risky]).await;
    let r = h.wait(&repeatable_run).await;
    assert_eq!(r.status, RunStatus::Completed, "{r:?}");
    assert_eq!(h.fake.count("a"), 0, "a completed step is never repeated");
    assert_eq!(
        (h.fake.count("unsafe"), h.fake.count("safe")),
        (1, 1),
        "both are safe to repeat"
    );
    assert_eq!(
        r.output.unwrap()["last"]["a"],
        "a",
        "results survive the restart"
    );

    let r = h.wait(&risky_run).await;
    assert_eq!(r.status, RunStatus::Compensated, "{r:?}");
    let states = step_states(&r);
    assert_eq!(states[1], ("unsafe", StepStatus::Unknown));
    assert!(r.error.as_deref().unwrap().contains("not safe to repeat"));
    assert_eq!(
        h.fake.count("risky_unsafe"),
        0,
        "an unsafe running step is not repeated"
    );
    assert_eq!(h.fake.count("undo_a"), 1, "the run compensates");
    h.stop().await;
}

async fn two_engines_on_one_store_never_run_a_step_twice(url: String) {
    let wf = r#"
name: pair
version: "1"
steps:
  - {name: a, mcp: s, action: slow, params: {label: "${input.n}-a", ms: 5}}
  - {name: b, mcp: s, action: slow, params: {label: "${input.n}-b", ms: 5}, dependsOn: [a]}
"#;
    let fake = Arc::new(Fake::default());
    let one = Harness::with(&url, &[wf], fake.clone(), limits(50)).await;
    let two = Harness::with(&url, &[wf], fake.clone(), limits(50)).await;
    let mut ids = Vec::new();
    for n in 0..20 {
        let h = if n % 2 == 0 { &one } else { &two };
        ids.push(
            h.engine
                .submit("pair", json!({"n": n}), Submit::default())
                .await
                .unwrap(),
        );
    }
    for id in &ids {
        assert_eq!(one.wait(id).await.status, RunStatus::Completed);
    }
    let calls = fake.calls();
    assert_eq!(calls.len(), 40, "{calls:?}");
    for n in 0..20 {
        assert_eq!(fake.count(&format!("{n}-a")), 1);
        assert_eq!(fake.count(&format!("{n}-b")), 1);
    }
    one.stop().await;
    two.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strategies_bound_the_width_they_promise() {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::sqlite_url(&dir).await;
    let wide = |strategy: &str| {
        format!(
            "name: {strategy}\nversion: \"1\"\nstrategy: {strategy}\nsteps:\n{}",
            (0..4)
                .map(|i| format!("  - {{name: s{i}, mcp: s, action: slow, params: {{label: {strategy}{i}, ms: 100}}, priority: {i}, resources: {{cpu: 1.0, memory_mb: 10}}}}\n"))
                .collect::<String>()
        )
    };
    let texts: Vec<String> = [
        "sequential",
        "parallel",
        "resource_aware",
        "priority",
        "adaptive",
    ]
    .iter()
    .map(|s| wide(s))
    .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    for (name, peak, order) in [
        (
            "sequential",
            1,
            Some(["sequential0", "sequential1", "sequential2", "sequential3"]),
        ),
        ("parallel", 4, None),
        // Two CPUs in all, one per step.
        ("resource_aware", 2, None),
        // One slot: the highest priority first.
        (
            "priority",
            1,
            Some(["priority3", "priority2", "priority1", "priority0"]),
        ),
        // Starts at half the step limit (here 2 of 4) and widens only as calls stay fast.
        ("adaptive", 2, None),
    ] {
        let fake = Arc::new(Fake::default());
        let max_steps = match name {
            "priority" => 1,
            "adaptive" => 4,
            _ => 50,
        };
        let h = Harness::with(&url, &refs, fake.clone(), limits(max_steps)).await;
        let r = h.run(name, json!({})).await;
        assert_eq!(r.status, RunStatus::Completed);
        assert_eq!(fake.peak.load(Ordering::SeqCst), peak, "{name}");
        if let Some(order) = order {
            assert_eq!(fake.calls(), order, "{name}");
        }
        h.stop().await;
    }
}

async fn wait_for(mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met in time");
}
