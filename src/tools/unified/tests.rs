//! The fallback logic against a fake [`ToolCaller`]: scripted vendor answers, paused time, no
//! processes. The process-level tests (`tests/integration/unified.rs`) check the same behaviour
//! through real children; these pin down the rules one by one.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, MetaObject};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{Unified, UnifiedTool, adapt, finish::ROUTING_META, outcome::ERROR_META};
use crate::config::Adapter;
use crate::{
    config::Config,
    dispatch::{
        BoxFuture, CallContext, CallOutcome, CallRequest, Caller, Catalog, ServerView, ToolCaller,
        ToolRef,
    },
    error::RouteError,
    report::ServerState,
};

/// One scripted answer of a fake vendor.
#[derive(Clone)]
enum Reply {
    /// Success with this structured content.
    Ok(Value),
    /// A vendor failure as the vendor servers classify it.
    Fail {
        kind: &'static str,
        retryable: bool,
        retry_after_ms: Option<u64>,
    },
    /// JSON-RPC invalid params from the vendor.
    InvalidParams,
    /// No answer until the call's deadline: then a timeout, as the dispatcher reports it.
    Hang,
}

fn fail(kind: &'static str, retryable: bool) -> Reply {
    Reply::Fail {
        kind,
        retryable,
        retry_after_ms: None,
    }
}

/// Vendors whose answers follow a script (the last answer repeats), and the calls they got.
struct Fake {
    servers: Mutex<Vec<ServerView>>,
    script: Mutex<HashMap<String, (usize, Vec<Reply>)>>,
    calls: Mutex<Vec<(String, String, Value)>>,
    /// A server in `starting` becomes `running` after this long.
    start_delay: Duration,
    /// After a call to the first vendor, the second one goes down (a crash mid-request).
    takes_down: Mutex<Option<(String, String)>>,
}

impl Fake {
    fn new(vendors: &[(&str, Vec<Reply>)]) -> Self {
        Self {
            servers: Mutex::new(
                vendors
                    .iter()
                    .map(|(id, _)| view(id, ServerState::Running))
                    .collect(),
            ),
            script: Mutex::new(
                vendors
                    .iter()
                    .map(|(id, r)| ((*id).to_owned(), (0, r.clone())))
                    .collect(),
            ),
            calls: Mutex::default(),
            start_delay: Duration::from_millis(300),
            takes_down: Mutex::default(),
        }
    }

    fn set_state(&self, id: &str, state: ServerState) {
        let mut servers = self.servers.lock().unwrap();
        let s = servers.iter_mut().find(|s| &*s.id == id).unwrap();
        s.state = state;
        if state == ServerState::MissingEnv {
            s.missing_env = vec!["KEY".into()];
        }
    }

    fn calls_to(&self, vendor: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(v, _, _)| v == vendor)
            .count()
    }

    fn next(&self, vendor: &str) -> Reply {
        let mut script = self.script.lock().unwrap();
        let (i, replies) = script.get_mut(vendor).expect("scripted vendor");
        let r = replies[(*i).min(replies.len() - 1)].clone();
        *i += 1;
        r
    }
}

fn view(id: &str, state: ServerState) -> ServerView {
    ServerView {
        id: id.into(),
        state,
        missing_env: Vec::new(),
        last_error: None,
        draining: false,
        tools: Arc::default(),
        capabilities: Arc::from([]),
    }
}

impl ToolCaller for Fake {
    fn catalog(&self) -> Catalog {
        Catalog {
            tools: Arc::default(),
            servers: self.servers.lock().unwrap().clone(),
        }
    }

    fn call<'a>(
        &'a self,
        request: CallRequest,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<CallOutcome, RouteError>> {
        Box::pin(async move {
            let ToolRef::Child { server, tool } = request.tool else {
                panic!("the unified tools call children only");
            };
            let args = Value::Object(request.arguments.unwrap_or_default());
            self.calls
                .lock()
                .unwrap()
                .push((server.to_string(), tool.clone(), args));
            let down = self.takes_down.lock().unwrap().clone();
            if let Some((after, victim)) = down
                && *after == *server
            {
                self.set_state(&victim, ServerState::Failed);
            }
            let result = match self.next(&server) {
                Reply::Ok(v) => {
                    let mut r = CallToolResult::success(vec![ContentBlock::text("ok")]);
                    r.structured_content = Some(v);
                    r
                }
                Reply::Fail {
                    kind,
                    retryable,
                    retry_after_ms,
                } => {
                    let mut r = CallToolResult::error(vec![ContentBlock::text(format!(
                        "{server}: {kind}"
                    ))]);
                    let mut meta = MetaObject::default();
                    meta.insert(
                        ERROR_META.into(),
                        json!({"kind": kind, "retryable": retryable, "retry_after_ms": retry_after_ms}),
                    );
                    r.meta = Some(meta);
                    r
                }
                Reply::InvalidParams => {
                    return Err(RouteError::Child(rmcp::ErrorData::invalid_params(
                        "bad arguments",
                        None,
                    )));
                }
                Reply::Hang => {
                    let after = request.timeout.expect("unified calls carry a deadline");
                    tokio::select! {
                        () = tokio::time::sleep(after) => {}
                        () = cx.cancel.cancelled() => {}
                    }
                    return Err(RouteError::Timeout {
                        server: server.to_string(),
                        method: "tools/call",
                        after,
                    });
                }
            };
            Ok(CallToolResponse::Complete(result))
        })
    }

    fn wait_settled<'a>(&'a self, server: &'a str, limit: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let wait = self.start_delay.min(limit);
            tokio::time::sleep(wait).await;
            if wait == self.start_delay {
                self.set_state(server, ServerState::Running);
            }
        })
    }
}

/// A config with servers `ids` (their `tools`, `embedding_space`) and these settings.
fn config(servers: Value, routing: Value, settings: Value) -> Config {
    let text = json!({"servers": servers, "routing": routing, "orchestrator": settings});
    crate::config::parse(
        std::path::Path::new("test.json"),
        &text.to_string(),
        &|_| None,
    )
    .unwrap()
}

fn servers(ids: &[&str]) -> Value {
    ids.iter()
        .map(|id| ((*id).to_owned(), json!({"command": "x"})))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn settings(extra: Value) -> Value {
    let mut s = json!({"retry_attempts": 2, "cache_ttl": 0, "default_timeout": 5});
    s.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    s
}

async fn call(
    unified: &Unified,
    config: &Config,
    fake: &Fake,
    tool: UnifiedTool,
    args: Value,
) -> Result<CallToolResult, RouteError> {
    let cx = CallContext::new(Caller::Host);
    unified
        .call(config, fake, tool, args.as_object().cloned(), &cx)
        .await
}

fn attempts(r: &CallToolResult) -> Vec<(String, String)> {
    r.structured_content.as_ref().unwrap()["routing"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["vendor"].as_str().unwrap().to_owned(),
                a["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn text(r: &CallToolResult) -> String {
    r.content[0].as_text().unwrap().text.clone()
}

fn chat_setup(a: Vec<Reply>, b: Vec<Reply>, extra: Value) -> (Unified, Config, Fake) {
    let c = config(
        servers(&["a", "b"]),
        json!({"chat": ["a", "b"]}),
        settings(extra),
    );
    (Unified::new(&c), c, Fake::new(&[("a", a), ("b", b)]))
}

#[tokio::test(start_paused = true)]
async fn a_vendor_failure_falls_back_and_the_answer_says_how_it_was_served() {
    let (u, c, fake) = chat_setup(
        vec![fail("unavailable", false)],
        vec![Reply::Ok(json!({"message": "hi"}))],
        json!({}),
    );
    let r = call(&u, &c, &fake, UnifiedTool::Chat, json!({"message": "x"}))
        .await
        .unwrap();
    assert_eq!(attempts(&r), pairs(&[("a", "failed"), ("b", "ok")]));
    let routing = &r.structured_content.as_ref().unwrap()["routing"];
    assert_eq!(routing["vendor"], "b");
    assert_eq!(r.structured_content.as_ref().unwrap()["message"], "hi");
    // The same record in `_meta`, set directly on the result.
    assert_eq!(r.meta.as_ref().unwrap().get(ROUTING_META), Some(routing));
    // The vendor gets the caller's arguments without the routing controls.
    let calls = fake.calls.lock().unwrap();
    assert_eq!(
        calls[1],
        ("b".into(), "chat".into(), json!({"message": "x"}))
    );
}

#[tokio::test(start_paused = true)]
async fn retryable_failures_retry_the_same_vendor_with_backoff_up_to_the_limit() {
    let (u, c, fake) = chat_setup(
        vec![
            fail("rate_limited", true),
            fail("rate_limited", true),
            Reply::Ok(json!({})),
        ],
        vec![Reply::Ok(json!({}))],
        json!({"retry_attempts": 3}),
    );
    let t0 = Instant::now();
    let r = call(&u, &c, &fake, UnifiedTool::Chat, json!({"message": "x"}))
        .await
        .unwrap();
    assert_eq!(
        attempts(&r),
        pairs(&[("a", "failed"), ("a", "failed"), ("a", "ok")])
    );
    // Backoff of 100 ms then 200 ms, each ±30 %.
    let slept = t0.elapsed();
    assert!(
        slept >= Duration::from_millis(210) && slept <= Duration::from_millis(390),
        "{slept:?}"
    );
    // With two attempts allowed, the third try goes to the next vendor instead.
    let (u, c, fake) = chat_setup(
        vec![fail("rate_limited", true)],
        vec![Reply::Ok(json!({}))],
        json!({}),
    );
    let r = call(&u, &c, &fake, UnifiedTool::Chat, json!({"message": "x"}))
        .await
        .unwrap();
    assert_eq!(
        attempts(&r),
        pairs(&[("a", "failed"), ("a", "failed"), ("b", "ok")])
    );
    assert_eq!(fake.calls_to("a"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_deadline_moves_on_at_once() {
    let (u, c, fake) = chat_setup(
        vec![Reply::Fail {
            kind: "rate_limited",
            retryable: true,
            retry_after_ms: Some(5000),
        }],
        vec![Reply::Ok(json!({}))],
        json!({"retry_attempts": 3}),
    );
    let t0 = Instant::now();
    let r = call(
        &u,
        &c,
        &fake,
        UnifiedTool::Chat,
        json!({"message": "x", "timeout_ms": 4000}),
    )
    .await
    .unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(attempts(&r), pairs(&[("a", "failed"), ("b", "ok")]));
}

#[tokio::test(start_paused = true)]
async fn caller_errors_come_back_at_once_without_fallback() {
    let (u, c, fake) = chat_setup(
        vec![fail("bad_request", false)],
        vec![Reply::Ok(json!({}))],
        json!({}),
    );
    let r = call(&u, &c, &fake, UnifiedTool::Chat, json!({"message": "x"}))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    assert_eq!(attempts(&r), pairs(&[("a", "caller_error")]));
    // A JSON-RPC invalid-params answer is the caller's error too, passed on as it is.
    let (u, c, fake) = chat_setup(
        vec![Reply::InvalidParams],
        vec![Reply::Ok(json!({}))],
        json!({}),
    );
    let e = call(&u, &c, &fake, UnifiedTool::Chat, json!({"message": "x"}))
        .await
        .unwrap_err();
    assert!(
        matches!(e, RouteError::Child(ref d) if d.message == "bad arguments"),
        "{e}"
    );
    assert_eq!(fake.calls_to("b"), 0);
    // A model the caller named and the vendor lacks is the caller's error; its default model
    // missing is the vendor's.
    let (u, c, fake) = chat_setup(
        vec![fail("not_found", false)],
        vec![Reply::Ok(json!({}))],
        json!({}),
    );
    let named = json!({"message": "x", "model": "nope"});
    let r = call(&u, &c, &fake, UnifiedTool::Chat, named).await.unwrap();
    assert_eq!(attempts(&r), pairs(&[("a", "caller_error")]));
    let r = call(&u, &c, &fake, UnifiedTool::Chat, json!({"message": "x"}))
        .await
        .unwrap();
    assert_eq!(attempts(&r), pairs(&[("a", "failed"), ("b", "ok")]));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_covers_every_vendor_and_a_hanging_one_is_abandoned_in_time() {
    let (u, c, fake) = chat_setup(vec![Reply::Hang], vec![Reply::Hang], json!({}));
    let t0 = Instant::now();
    let r = call(
        &u,
        &c,
        &fake,
        UnifiedTool::Chat,
        json!({"message": "x", "timeout_ms": 600}),
    )
    .await
    .unwrap();
    assert_eq!(t0.elapsed(), Duration::from_millis(600));
    assert_eq!(r.is_error, Some(true));
    // The first vendor used the whole deadline; the second was not called past it.
    assert_eq!(attempts(&r), pairs(&[("a", "failed"), ("b", "skipped")]));
    assert!(text(&r).contains("deadline"), "{}", text(&r));
}

#[tokio::test(start_paused = true)]
async fn a_breaker_opens_after_repeated_failures_and_closes_after_a_good_probe() {
    let c = config(
        servers(&["a", "b"]),
        json!({"chat": ["a", "b"]}),
        settings(json!({"retry_attempts": 1, "breaker_min_calls": 2, "breaker_cooldown": 30})),
    );
    let u = Unified::new(&c);
    let fake = Fake::new(&[
        (
            "a",
            vec![
                fail("unavailable", false),
                fail("unavailable", false),
                Reply::Ok(json!({})),
            ],
        ),
        ("b", vec![Reply::Ok(json!({}))]),
    ]);
    let chat = || call(&u, &c, &fake, UnifiedTool::Chat, json!({"message": "x"}));
    chat().await.unwrap();
    chat().await.unwrap();
    assert_eq!(u.circuit("a"), Some(crate::report::CircuitState::Open));
    let r = chat().await.unwrap();
    assert_eq!(attempts(&r), pairs(&[("a", "skipped"), ("b", "ok")]));
    assert_eq!(fake.calls_to("a"), 2, "an open circuit is not called");
    tokio::time::advance(Duration::from_secs(31)).await;
    let r = chat().await.unwrap();
    assert_eq!(attempts(&r), pairs(&[("a", "ok")]), "the probe succeeds");
    assert_eq!(u.circuit("a"), Some(crate::report::CircuitState::Closed));
}

#[tokio::test(start_paused = true)]
async fn auth_opens_the_circuit_at_once_and_when_all_are_open_the_soonest_is_probed() {
    let c = config(
        servers(&["a", "b"]),
        json!({"chat": ["a", "b"]}),
        settings(json!({"breaker_cooldown": 30})),
    );
    let u = Unified::new(&c);
    let fake = Fake::new(&[
        ("a", vec![fail("auth", false), Reply::Ok(json!({}))]),
        ("b", vec![fail("auth", false), Reply::Ok(json!({}))]),
    ]);
    let chat = || call(&u, &c, &fake, UnifiedTool::Chat, json!({"message": "x"}));
    let r = chat().await.unwrap();
    assert_eq!(
        attempts(&r),
        pairs(&[("a", "failed")])
            .into_iter()
            .chain(pairs(&[("b", "failed")]))
            .collect::<Vec<_>>()
    );
    assert_eq!(fake.calls_to("a"), 1, "auth is not retried");
    tokio::time::advance(Duration::from_secs(1)).await;
    // Both open; `a` opened first, so its cool-down ends first: it is probed rather than fail.
    let r = chat().await.unwrap();
    assert_eq!(
        attempts(&r),
        pairs(&[("a", "skipped"), ("b", "skipped"), ("a", "ok")])
    );
}

#[tokio::test(start_paused = true)]
async fn embeddings_fall_back_only_within_one_embedding_space() {
    let servers = json!({
        "a": {"command": "x", "embedding_space": "s1"},
        "b": {"command": "x", "embedding_space": "s2"},
        "c": {"command": "x", "embedding_space": "s1"},
    });
    let c = config(
        servers,
        json!({"embed": ["a", "b", "c"]}),
        settings(json!({})),
    );
    let u = Unified::new(&c);
    let fake = Fake::new(&[
        ("a", vec![fail("unavailable", false)]),
        ("b", vec![Reply::Ok(json!({"embeddings": [[1.0]]}))]),
        ("c", vec![Reply::Ok(json!({"embeddings": [[2.0]]}))]),
    ]);
    let r = call(&u, &c, &fake, UnifiedTool::Embed, json!({"input": "t"}))
        .await
        .unwrap();
    assert_eq!(
        attempts(&r),
        pairs(&[("a", "failed"), ("b", "skipped"), ("c", "ok")])
    );
    assert_eq!(fake.calls_to("b"), 0);
}

#[tokio::test(start_paused = true)]
async fn vendors_that_cannot_serve_are_skipped_with_the_reason() {
    let c = config(
        servers(&["a", "b", "c"]),
        json!({"chat": ["a", "b", "c"]}),
        settings(json!({})),
    );
    let u = Unified::new(&c);
    let fake = Fake::new(&[
        ("a", vec![Reply::Ok(json!({}))]),
        ("b", vec![Reply::Ok(json!({}))]),
        ("c", vec![Reply::Ok(json!({}))]),
    ]);
    fake.set_state("a", ServerState::MissingEnv);
    fake.set_state("b", ServerState::Failed);
    let r = call(&u, &c, &fake, UnifiedTool::Chat, json!({"message": "x"}))
        .await
        .unwrap();
    assert_eq!(
        attempts(&r),
        pairs(&[("a", "skipped"), ("b", "skipped"), ("c", "ok")])
    );
    let why: Vec<&str> = r.structured_content.as_ref().unwrap()["routing"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["error"].as_str())
        .collect();
    assert_eq!(why, ["missing_env: KEY not set", "failed"]);
}

#[tokio::test(start_paused = true)]
async fn a_vendor_that_went_down_during_the_request_is_skipped_with_its_reason() {
    let c = config(
        servers(&["a", "b", "c"]),
        json!({"chat": ["a", "b", "c"]}),
        settings(json!({})),
    );
    let u = Unified::new(&c);
    let fake = Fake::new(&[
        ("a", vec![fail("unavailable", false)]),
        ("b", vec![Reply::Ok(json!({}))]),
        ("c", vec![Reply::Ok(json!({}))]),
    ]);
    *fake.takes_down.lock().unwrap() = Some(("a".into(), "b".into()));
    let r = call(&u, &c, &fake, UnifiedTool::Chat, json!({"message": "x"}))
        .await
        .unwrap();
    assert_eq!(
        attempts(&r),
        pairs(&[("a", "failed"), ("b", "skipped"), ("c", "ok")])
    );
    assert_eq!(fake.calls_to("b"), 0);
}

#[tokio::test(start_paused = true)]
async fn a_vendor_on_its_first_start_is_waited_for_within_the_deadline() {
    let (u, c, fake) = chat_setup(
        vec![Reply::Ok(json!({}))],
        vec![Reply::Ok(json!({}))],
        json!({}),
    );
    fake.set_state("a", ServerState::Starting);
    let t0 = Instant::now();
    let r = call(&u, &c, &fake, UnifiedTool::Chat, json!({"message": "x"}))
        .await
        .unwrap();
    assert_eq!(t0.elapsed(), fake.start_delay);
    assert_eq!(attempts(&r), pairs(&[("a", "ok")]));
}

#[tokio::test(start_paused = true)]
async fn when_every_vendor_fails_each_is_named_once_with_its_attempts() {
    let (u, c, fake) = chat_setup(
        vec![fail("network", true)],
        vec![fail("auth", false)],
        json!({"retry_attempts": 3}),
    );
    let r = call(&u, &c, &fake, UnifiedTool::Chat, json!({"message": "x"}))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    assert_eq!(
        text(&r),
        "`chat` failed on every vendor — a (3 attempts): a: network; b: b: auth"
    );
}

#[tokio::test(start_paused = true)]
async fn the_routing_controls_are_checked_before_any_vendor_is_called() {
    let (u, c, fake) = chat_setup(
        vec![Reply::Ok(json!({}))],
        vec![Reply::Ok(json!({}))],
        json!({}),
    );
    let e = call(
        &u,
        &c,
        &fake,
        UnifiedTool::Chat,
        json!({"message": "x", "vendor": "z"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_error_data().code,
        rmcp::model::ErrorCode::INVALID_PARAMS
    );
    let e = call(&u, &c, &fake, UnifiedTool::Embed, json!({"input": "x"}))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "no vendor is configured for `embed`");
    let r = call(
        &u,
        &c,
        &fake,
        UnifiedTool::Chat,
        json!({"message": "x", "vendor": "b", "fallback": false}),
    )
    .await
    .unwrap();
    assert_eq!(attempts(&r), pairs(&[("b", "ok")]));
    assert!(fake.calls.lock().unwrap().iter().all(|(v, _, _)| v == "b"));
}

#[tokio::test(start_paused = true)]
async fn list_models_asks_every_vendor_and_merges() {
    let c = config(
        servers(&["a", "b", "c"]),
        json!({"list_models": ["a", "b", "c"]}),
        settings(json!({})),
    );
    let u = Unified::new(&c);
    let fake = Fake::new(&[
        ("a", vec![Reply::Ok(json!({"models": [{"id": "m1"}]}))]),
        ("b", vec![fail("unavailable", false)]),
        (
            "c",
            vec![Reply::Ok(
                json!({"models": [{"id": "m2", "vendor": "own"}]}),
            )],
        ),
    ]);
    let r = call(&u, &c, &fake, UnifiedTool::ListModels, json!({}))
        .await
        .unwrap();
    assert_eq!(
        r.structured_content.as_ref().unwrap()["models"],
        json!([{"id": "m1", "vendor": "a"}, {"id": "m2", "vendor": "own"}])
    );
    assert_eq!(
        attempts(&r),
        pairs(&[("a", "ok"), ("b", "failed"), ("c", "ok")])
    );
    assert_eq!(text(&r), "2 models from 2 vendors");
}

#[tokio::test(start_paused = true)]
async fn cacheable_answers_are_reused_but_chat_is_never_cached() {
    let c = config(
        servers(&["a"]),
        json!({"get_weather": ["a"], "chat": ["a"]}),
        settings(json!({"cache_ttl": 60})),
    );
    let u = Unified::new(&c);
    let fake = Fake::new(&[("a", vec![Reply::Ok(json!({"temperature": 1}))])]);
    for _ in 0..2 {
        call(
            &u,
            &c,
            &fake,
            UnifiedTool::GetWeather,
            json!({"location": "Paris"}),
        )
        .await
        .unwrap();
        call(&u, &c, &fake, UnifiedTool::Chat, json!({"message": "x"}))
            .await
            .unwrap();
    }
    let r = call(
        &u,
        &c,
        &fake,
        UnifiedTool::GetWeather,
        json!({"location": "Paris"}),
    )
    .await
    .unwrap();
    assert_eq!(
        r.structured_content.as_ref().unwrap()["routing"]["cached"],
        true
    );
    let calls_of = |tool: &str| {
        let calls = fake.calls.lock().unwrap();
        calls.iter().filter(|(_, t, _)| t == tool).count()
    };
    assert_eq!(calls_of("get_weather"), 1);
    assert_eq!(calls_of("chat"), 2);
    tokio::time::advance(Duration::from_secs(61)).await;
    call(
        &u,
        &c,
        &fake,
        UnifiedTool::GetWeather,
        json!({"location": "Paris"}),
    )
    .await
    .unwrap();
    assert_eq!(fake.calls_to("a"), 4, "an expired answer is fetched again");
}

#[test]
fn adapter_renames_defaults_and_retargets() {
    let a = Adapter {
        tool: Some("ask".into()),
        rename: [("message".to_owned(), "prompt".to_owned())].into(),
        defaults: json!({"model": "m1", "prompt": "unused"})
            .as_object()
            .unwrap()
            .clone(),
    };
    let args = json!({"message": "hi"}).as_object().unwrap().clone();
    let (tool, out) = adapt(UnifiedTool::Chat, Some(&a), args);
    assert_eq!(tool, "ask");
    assert_eq!(
        serde_json::Value::Object(out),
        json!({"prompt": "hi", "model": "m1"})
    );
    let (tool, _) = adapt(UnifiedTool::Embed, None, Default::default());
    assert_eq!(tool, "embed");
}
