//! One unified request: pick vendors in order, retry briefly, fall back, all within one deadline.

use std::time::Duration;

use rmcp::model::{CallToolResponse, CallToolResult, JsonObject};
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::{
    Unified, UnifiedTool, adapt,
    breaker::Admit,
    cache,
    controls::{take_controls, vendor_order},
    outcome::{Failure, Outcome, classify},
};
use crate::{
    backoff::Backoff,
    config::Config,
    dispatch::{CallContext, CallRequest, ToolCaller, child::unexpected},
    error::RouteError,
    report::{Attempt, AttemptOutcome, Routing, ServerState},
};

/// Same-vendor retry pacing: short, because the deadline covers every vendor.
const RETRY: Backoff = Backoff::RETRY;

impl Unified {
    /// Serves one unified tool call: vendors from `config`, reached through `vendors`.
    pub async fn call(
        &self,
        config: &Config,
        vendors: &dyn ToolCaller,
        tool: UnifiedTool,
        args: Option<JsonObject>,
        cx: &CallContext,
    ) -> Result<CallToolResult, RouteError> {
        let started = Instant::now();
        let mut args = args.unwrap_or_default();
        let controls = take_controls(&mut args, config.settings.default_timeout)?;
        let chain = config.routing.get(tool.name()).cloned().unwrap_or_default();
        let order = vendor_order(tool, &chain, &controls)?;
        let mut run = Run {
            unified: self,
            config,
            vendors,
            tool,
            cx,
            started,
            deadline: started + controls.timeout,
            routing: Routing::default(),
            outside: Duration::ZERO,
        };

        let ttl = config.settings.cache_ttl;
        let cache_key = (tool.cacheable() && !ttl.is_zero()).then(|| {
            let mut keyed = args.clone();
            if let Some(v) = &controls.vendor {
                keyed.insert("vendor".into(), Value::String(v.clone()));
            }
            cache::key(tool.name(), &Value::Object(keyed))
        });
        if let Some(key) = &cache_key
            && let Some(hit) = self.cache().get(key, ttl, Instant::now())
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
            self.cache().put(key, r.clone(), Instant::now());
        }
        result
    }
}

/// Per-request bookkeeping.
pub(super) struct Run<'a> {
    pub(super) unified: &'a Unified,
    pub(super) config: &'a Config,
    pub(super) vendors: &'a dyn ToolCaller,
    pub(super) tool: UnifiedTool,
    pub(super) cx: &'a CallContext,
    pub(super) started: Instant,
    pub(super) deadline: Instant,
    pub(super) routing: Routing,
    /// Time waiting on vendors or sleeping between retries.
    pub(super) outside: Duration,
}

/// What trying one vendor led to.
enum Step {
    Done(Result<CallToolResult, RouteError>),
    Next,
    Blocked(Instant),
    Stop,
}

impl<'a> Run<'a> {
    async fn fall_through(
        &mut self,
        order: &[String],
        args: Map<String, Value>,
    ) -> Result<CallToolResult, RouteError> {
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

    fn embedding_space(&self, vendor: &str) -> Option<&'a str> {
        self.config
            .server(vendor)
            .and_then(|s| s.embedding_space.as_deref())
    }

    /// Records one attempt at `vendor`.
    pub(super) fn attempt(
        &mut self,
        vendor: &str,
        outcome: AttemptOutcome,
        error: Option<String>,
        took: Duration,
    ) {
        self.routing.attempts.push(Attempt {
            vendor: vendor.to_owned(),
            outcome,
            error,
            ms: super::finish::ms(took),
        });
    }

    fn skip(&mut self, vendor: &str, why: String) {
        self.attempt(vendor, AttemptOutcome::Skipped, Some(why), Duration::ZERO);
    }

    /// Whether `vendor` can take a call now; waits for one that is still on its first start.
    /// The vendors' states are read at each turn, not once per request: a vendor that crashed
    /// while an earlier one was tried is skipped with its reason.
    pub(super) async fn usable(&mut self, vendor: &str) -> bool {
        let mut catalog = self.vendors.catalog();
        let Some(state) = catalog.server(vendor).map(|s| s.state) else {
            self.skip(vendor, "not in the config".into());
            return false;
        };
        if state == ServerState::Starting {
            let wait = self.deadline.saturating_duration_since(Instant::now());
            self.vendors.wait_settled(vendor, wait).await;
            catalog = self.vendors.catalog();
        }
        let Some(server) = catalog.server(vendor) else {
            self.skip(vendor, "not in the config".into());
            return false;
        };
        if server.takes_calls() {
            return true;
        }
        let why = server.why_not();
        self.skip(vendor, why);
        false
    }

    /// Calls `vendor`'s tool for this request (its adapter applied), bounded by `remaining`.
    pub(super) async fn call_vendor(
        &self,
        vendor: &str,
        args: Map<String, Value>,
        remaining: Duration,
    ) -> Result<CallToolResult, RouteError> {
        let adapter = self
            .config
            .server(vendor)
            .and_then(|s| s.adapt.get(self.tool.name()));
        let (name, vargs) = adapt(self.tool, adapter, args);
        let request = CallRequest::child(vendor, name)
            .arguments(vargs)
            .timeout(remaining);
        match self.vendors.call(request, self.cx).await? {
            CallToolResponse::Complete(r) => Ok(r),
            _ => Err(unexpected(vendor, "tools/call")),
        }
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
        let unified = self.unified;
        let attempts = self.config.settings.retry_attempts;
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
            let t0 = Instant::now();
            let result = self.call_vendor(vendor, args.clone(), remaining).await;
            let took = t0.elapsed();
            self.outside += took;
            if self.cx.cancel.is_cancelled() {
                unified.breaker(vendor, |b| b.abandon());
                return Step::Stop;
            }
            match classify(result, named_model) {
                Outcome::Success(r) => {
                    unified.breaker(vendor, |b| b.success(Instant::now()));
                    self.attempt(vendor, AttemptOutcome::Ok, None, took);
                    self.routing.vendor = Some(vendor.to_owned());
                    return Step::Done(Ok(self.finish(r, None)));
                }
                Outcome::CallerError(reply) => {
                    // The vendor did its job; the request was wrong.
                    unified.breaker(vendor, |b| b.success(Instant::now()));
                    let error = caller_error_text(&reply);
                    self.attempt(
                        vendor,
                        AttemptOutcome::CallerError,
                        Some(error.clone()),
                        took,
                    );
                    self.routing.vendor = Some(vendor.to_owned());
                    return Step::Done(match reply {
                        Ok(r) => Ok(self.finish(r, Some(error))),
                        Err(e) => {
                            self.record_metrics(Some(&error));
                            Err(RouteError::Child(e))
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
                    self.attempt(
                        vendor,
                        AttemptOutcome::Failed,
                        Some(f.message.clone()),
                        took,
                    );
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
}

/// What a caller error says, for the attempt record and the metrics.
pub(super) fn caller_error_text(reply: &Result<CallToolResult, rmcp::ErrorData>) -> String {
    match reply {
        Ok(r) => Failure::text_of(r),
        Err(e) => e.message.to_string(),
    }
}
