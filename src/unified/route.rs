//! One unified request: pick vendors in order, retry briefly, fall back, all within one deadline,
//! and say how it went.

use std::{sync::Arc, time::Duration};

use rmcp::{
    ErrorData, RoleServer,
    model::{
        CallToolRequestParams, CallToolResult, ClientRequest, ContentBlock, Request, ServerResult,
    },
    service::RequestContext,
};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::{
    UnifiedTool, adapt,
    breaker::Admit,
    cache,
    outcome::{Outcome, classify},
};
pub use crate::report::{Attempt, Routing};
use crate::{
    error::RouteError, join::join_all, orchestrator::Orchestrator, server::forward,
    supervisor::ServerState, supervisor::backoff::Backoff,
};

/// The `_meta` key under which results carry [`Routing`].
pub const ROUTING_META: &str = "mcp-orchestrator/routing";

/// Same-vendor retry pacing: short, because the deadline covers every vendor.
const RETRY: Backoff = Backoff::RETRY;

struct Controls {
    vendor: Option<String>,
    fallback: bool,
    timeout: Duration,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

fn take_controls(args: &mut Map<String, Value>, default: Duration) -> Result<Controls, ErrorData> {
    let bad = |m: &str| ErrorData::invalid_params(m.to_owned(), None);
    let vendor = match args.remove("vendor") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => Some(v),
        Some(_) => return Err(bad("`vendor` must be a string")),
    };
    let fallback = match args.remove("fallback") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(bad("`fallback` must be true or false")),
    };
    let timeout = match args.remove("timeout_ms") {
        None | Some(Value::Null) => default,
        Some(v) => match v.as_u64().filter(|t| *t > 0) {
            Some(t) => Duration::from_millis(t),
            None => return Err(bad("`timeout_ms` must be a positive integer")),
        },
    };
    Ok(Controls {
        vendor,
        fallback,
        timeout,
    })
}

/// Per-request bookkeeping.
struct Run<'a> {
    orch: &'a Arc<Orchestrator>,
    tool: UnifiedTool,
    cx: &'a RequestContext<RoleServer>,
    started: Instant,
    deadline: Instant,
    routing: Routing,
    /// Time waiting on vendors or sleeping between retries.
    outside: Duration,
}

/// Serves one unified tool call.
pub async fn call(
    orch: &Arc<Orchestrator>,
    tool: UnifiedTool,
    args: Option<Map<String, Value>>,
    cx: &RequestContext<RoleServer>,
) -> Result<CallToolResult, ErrorData> {
    let started = Instant::now();
    let config = orch.config();
    let mut args = args.unwrap_or_default();
    let controls = take_controls(&mut args, config.settings.default_timeout)?;
    let chain = config.routing.get(tool.name()).cloned().unwrap_or_default();
    if chain.is_empty() {
        return Err(ErrorData::invalid_params(
            format!("no vendor is configured for `{}`", tool.name()),
            None,
        ));
    }
    let mut order = chain.clone();
    if let Some(v) = &controls.vendor {
        let Some(i) = order.iter().position(|c| c == v) else {
            return Err(ErrorData::invalid_params(
                format!(
                    "vendor `{v}` does not offer `{}`; configured: {}",
                    tool.name(),
                    chain.join(", ")
                ),
                None,
            ));
        };
        let pinned = order.remove(i);
        order.insert(0, pinned);
    }
    if !controls.fallback {
        order.truncate(1);
    }
    let mut run = Run {
        orch,
        tool,
        cx,
        started,
        deadline: started + controls.timeout,
        routing: Routing::default(),
        outside: Duration::ZERO,
    };

    let cache_key = (tool.cacheable() && !config.settings.cache_ttl.is_zero()).then(|| {
        let mut keyed = args.clone();
        if let Some(v) = &controls.vendor {
            keyed.insert("vendor".into(), Value::String(v.clone()));
        }
        cache::key(tool.name(), &Value::Object(keyed))
    });
    if let Some(key) = &cache_key
        && let Some(hit) = orch
            .unified()
            .cache
            .get(key, config.settings.cache_ttl, Instant::now())
    {
        run.routing.cached = true;
        run.routing.vendor = hit
            .structured_content
            .as_ref()
            .and_then(|s| s.get("routing"))
            .and_then(|r| r.get("vendor"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        return Ok(run.finish(hit, None));
    }

    let result = if tool == UnifiedTool::ListModels {
        run.list_models(&order, args).await
    } else {
        run.fall_through(&order, args).await
    };
    if let (Some(key), Ok(r)) = (cache_key, &result)
        && r.is_error != Some(true)
    {
        orch.unified().cache.put(key, r.clone(), Instant::now());
    }
    result
}

/// What trying one vendor led to.
enum Step {
    Done(Result<CallToolResult, ErrorData>),
    Next,
    Blocked(Instant),
    Stop,
}

impl Run<'_> {
    async fn fall_through(
        &mut self,
        order: &[String],
        args: Map<String, Value>,
    ) -> Result<CallToolResult, ErrorData> {
        let named_model = args.get("model").is_some_and(|m| !m.is_null());
        let space = self.embedding_space(&order[0]);
        let mut blocked: Vec<(Instant, &String)> = Vec::new();
        let mut tried = false;
        for vendor in order {
            let compatible = space.is_some() && self.embedding_space(vendor) == space;
            if self.tool == UnifiedTool::Embed && vendor != &order[0] && !compatible {
                self.skip(vendor, format!(
                    "not compatible with `{}`'s embeddings (give both the same `embedding_space` to allow this fallback)",
                    order[0]
                ));
                continue;
            }
            match self.try_vendor(vendor, &args, named_model, false).await {
                Step::Done(r) => return r,
                Step::Next => tried = true,
                Step::Blocked(until) => blocked.push((until, vendor)),
                Step::Stop => return Ok(self.failed()),
            }
        }
        // Every usable vendor has an open circuit: rather than fail blind, probe the one that
        // recovers first.
        if !tried && let Some((_, vendor)) = blocked.iter().min_by_key(|(until, _)| *until) {
            let vendor = (*vendor).clone();
            if let Step::Done(r) = self.try_vendor(&vendor, &args, named_model, true).await {
                return r;
            }
        }
        Ok(self.failed())
    }

    fn embedding_space(&self, vendor: &str) -> Option<String> {
        self.orch
            .config()
            .server(vendor)
            .and_then(|s| s.embedding_space.clone())
    }

    fn skip(&mut self, vendor: &str, why: String) {
        self.routing.attempts.push(Attempt {
            vendor: vendor.to_owned(),
            outcome: "skipped".into(),
            error: Some(why),
            ms: 0.0,
        });
    }

    /// Whether `vendor` can take a call now; waits for one that is still on its first start.
    async fn usable(&mut self, vendor: &str) -> bool {
        let Some(child) = self.orch.child(vendor) else {
            self.skip(vendor, "not in the config".into());
            return false;
        };
        if child.state() == ServerState::Starting {
            let wait = self.deadline.saturating_duration_since(Instant::now());
            let _ = child.wait_settled(wait).await;
        }
        let status = child.status();
        if status.state.serves_calls() && !child.is_draining() {
            return true;
        }
        let why = match status.state {
            ServerState::MissingEnv => {
                format!("missing_env: {} not set", status.missing_env.join(", "))
            }
            state => match status.last_error {
                Some(e) => format!("{state}: {}", e.lines().next().unwrap_or_default()),
                None => state.to_string(),
            },
        };
        self.skip(vendor, why);
        false
    }

    async fn try_vendor(
        &mut self,
        vendor: &str,
        args: &Map<String, Value>,
        named_model: bool,
        forced: bool,
    ) -> Step {
        if !self.usable(vendor).await {
            return Step::Next;
        }
        let unified = self.orch.unified();
        let attempts = self.orch.config().settings.retry_attempts;
        let adapter = self
            .orch
            .config()
            .server(vendor)
            .and_then(|s| s.adapt.get(self.tool.name()).cloned());
        let mut tries = 0u32;
        loop {
            let now = Instant::now();
            let admit = if forced && tries == 0 {
                unified.breaker(vendor, |b| b.force())
            } else {
                unified.breaker(vendor, |b| b.admit(now))
            };
            if let Admit::No { until } = admit {
                let secs = until.saturating_duration_since(now).as_secs_f64();
                self.skip(
                    vendor,
                    format!("circuit open for another {secs:.1} s after repeated failures"),
                );
                return if tries == 0 {
                    Step::Blocked(until)
                } else {
                    Step::Next
                };
            }
            let remaining = self.deadline.saturating_duration_since(now);
            if remaining.is_zero() {
                unified.breaker(vendor, |b| b.abandon());
                self.skip(vendor, "the request's deadline had passed".into());
                return Step::Stop;
            }
            let (name, vargs) = adapt(self.tool, adapter.as_ref(), args.clone());
            let params = CallToolRequestParams::new(name).with_arguments(vargs);
            let t0 = Instant::now();
            let result = forward::request(
                self.orch,
                &Arc::from(vendor),
                ClientRequest::CallToolRequest(Request::new(params)),
                "tools/call",
                self.cx,
                Some(remaining),
            )
            .await
            .and_then(|r| match r {
                ServerResult::CallToolResult(r) => Ok(r),
                _ => Err(RouteError::Transport {
                    server: vendor.to_owned(),
                    message: "answered tools/call with an unexpected result type".into(),
                }),
            });
            let took = t0.elapsed();
            self.outside += took;
            if self.cx.ct.is_cancelled() {
                unified.breaker(vendor, |b| b.abandon());
                return Step::Stop;
            }
            let record = |run: &mut Self, outcome: &str, error| {
                run.routing.attempts.push(Attempt {
                    vendor: vendor.to_owned(),
                    outcome: outcome.to_owned(),
                    error,
                    ms: ms(took),
                });
            };
            match classify(result, named_model) {
                Outcome::Success(r) => {
                    unified.breaker(vendor, |b| b.success(Instant::now()));
                    record(self, "ok", None);
                    self.routing.vendor = Some(vendor.to_owned());
                    return Step::Done(Ok(self.finish(r, None)));
                }
                Outcome::CallerError(reply) => {
                    // The vendor did its job; the request was wrong.
                    unified.breaker(vendor, |b| b.success(Instant::now()));
                    let error = match &reply {
                        Ok(r) => super::outcome::Failure::text_of(r),
                        Err(e) => e.message.to_string(),
                    };
                    record(self, "caller_error", Some(error.clone()));
                    self.routing.vendor = Some(vendor.to_owned());
                    return Step::Done(match reply {
                        Ok(r) => Ok(self.finish(r, Some(error))),
                        Err(e) => {
                            self.record_metrics(Some(&error));
                            Err(e)
                        }
                    });
                }
                Outcome::VendorFailure(f) => {
                    let at = Instant::now();
                    if f.auth {
                        unified.breaker(vendor, |b| b.trip(at));
                    } else {
                        unified.breaker(vendor, |b| b.failure(at));
                    }
                    record(self, "failed", Some(f.message.clone()));
                    tries += 1;
                    if !f.retry_same || f.auth || tries >= attempts {
                        return Step::Next;
                    }
                    let delay = f
                        .retry_after
                        .unwrap_or_else(|| RETRY.delay(tries - 1, fastrand::f64()));
                    // Honour retry-after only when it leaves time for the call itself.
                    if Instant::now() + delay >= self.deadline {
                        return Step::Next;
                    }
                    tokio::time::sleep(delay).await;
                    self.outside += delay;
                }
            }
        }
    }

    async fn list_models(
        &mut self,
        order: &[String],
        args: Map<String, Value>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut live = Vec::new();
        for vendor in order {
            if self.usable(vendor).await {
                live.push(vendor.clone());
            }
        }
        let orch = self.orch;
        let cx = self.cx;
        let deadline = self.deadline;
        let calls = live.iter().map(|vendor| {
            let args = args.clone();
            async move {
                let t0 = Instant::now();
                let adapter = orch
                    .config()
                    .server(vendor)
                    .and_then(|s| s.adapt.get("list_models").cloned());
                let (name, vargs) = adapt(UnifiedTool::ListModels, adapter.as_ref(), args);
                let params = CallToolRequestParams::new(name).with_arguments(vargs);
                let r = forward::request(
                    orch,
                    &Arc::from(vendor.as_str()),
                    ClientRequest::CallToolRequest(Request::new(params)),
                    "tools/call",
                    cx,
                    Some(deadline.saturating_duration_since(t0)),
                )
                .await;
                (vendor.clone(), r, t0.elapsed())
            }
        });
        let answers = join_all(calls).await;
        let mut models = Vec::new();
        for (vendor, r, took) in answers {
            self.outside = self.outside.max(took);
            let r = r.and_then(|r| match r {
                ServerResult::CallToolResult(r) => Ok(r),
                _ => Err(RouteError::Transport {
                    server: vendor.clone(),
                    message: "unexpected result".into(),
                }),
            });
            match classify(r, false) {
                Outcome::Success(r) => {
                    let listed = r
                        .structured_content
                        .as_ref()
                        .and_then(|s| s.get("models"))
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    for mut m in listed {
                        if let Value::Object(o) = &mut m {
                            o.entry("vendor")
                                .or_insert_with(|| Value::String(vendor.clone()));
                        }
                        models.push(m);
                    }
                    self.routing.attempts.push(Attempt {
                        vendor,
                        outcome: "ok".into(),
                        error: None,
                        ms: ms(took),
                    });
                }
                Outcome::VendorFailure(f) => self.routing.attempts.push(Attempt {
                    vendor,
                    outcome: "failed".into(),
                    error: Some(f.message),
                    ms: ms(took),
                }),
                Outcome::CallerError(reply) => {
                    let error = match &reply {
                        Ok(r) => super::outcome::Failure::text_of(r),
                        Err(e) => e.message.to_string(),
                    };
                    self.routing.attempts.push(Attempt {
                        vendor,
                        outcome: "caller_error".into(),
                        error: Some(error),
                        ms: ms(took),
                    });
                }
            }
        }
        if !self.routing.attempts.iter().any(|a| a.outcome == "ok") {
            return Ok(self.failed());
        }
        let text = format!(
            "{} models from {} vendors",
            models.len(),
            self.routing
                .attempts
                .iter()
                .filter(|a| a.outcome == "ok")
                .count()
        );
        let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
        r.structured_content = Some(json!({"models": models}));
        Ok(self.finish(r, None))
    }

    /// Every vendor failed (or none could be tried): a tool error a person can act on.
    fn failed(&mut self) -> CallToolResult {
        let reasons: Vec<String> = self
            .routing
            .attempts
            .iter()
            .filter_map(|a| a.error.as_ref().map(|e| format!("{}: {e}", a.vendor)))
            .collect();
        let message = if reasons.is_empty() {
            format!(
                "`{}` could not be served: no vendor was tried",
                self.tool.name()
            )
        } else {
            format!(
                "`{}` failed on every vendor — {}",
                self.tool.name(),
                reasons.join("; ")
            )
        };
        let mut r = CallToolResult::error(vec![ContentBlock::text(message.clone())]);
        r.structured_content = Some(json!({"error": message}));
        self.finish(r, Some(message))
    }

    fn record_metrics(&mut self, error: Option<&str>) {
        let total = self.started.elapsed();
        self.routing.total_ms = ms(total);
        self.routing.overhead_ms = ms(total.saturating_sub(self.outside));
        if let Some(m) = self.orch.unified().metrics_of(self.tool) {
            m.record(total, self.outside, error);
        }
        tracing::info!(
            target: "mcp_orchestrator::audit",
            tool = self.tool.name(),
            vendor = self.routing.vendor.as_deref().unwrap_or("-"),
            outcome = if error.is_some() { "error" } else { "ok" },
            attempts = self.routing.attempts.len(),
            cached = self.routing.cached,
            ms = self.routing.total_ms,
            "unified call"
        );
    }

    /// Adds the routing record to a result (structured content and `_meta`).
    fn finish(&mut self, mut r: CallToolResult, error: Option<String>) -> CallToolResult {
        self.record_metrics(error.as_deref());
        let routing = serde_json::to_value(&self.routing).unwrap_or(Value::Null);
        match &mut r.structured_content {
            Some(Value::Object(o)) => {
                o.insert("routing".into(), routing.clone());
            }
            Some(other) => {
                let inner = other.take();
                r.structured_content = Some(json!({"result": inner, "routing": routing}));
            }
            None => {
                let text: Vec<String> = r
                    .content
                    .iter()
                    .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                    .collect();
                r.structured_content = Some(json!({"text": text.join("\n"), "routing": routing}));
            }
        }
        let mut v = serde_json::to_value(&r).unwrap_or(Value::Null);
        if let Some(obj) = v.as_object_mut() {
            let meta = obj.entry("_meta").or_insert_with(|| json!({}));
            if let Some(m) = meta.as_object_mut() {
                m.insert(ROUTING_META.into(), routing);
            }
        }
        serde_json::from_value(v).unwrap_or(r)
    }
}
