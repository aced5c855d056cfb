//! Alerts: the config's rules evaluated on every resource sample against the status report.
//!
//! [`Evaluator`] is pure (time is passed in): a rule whose condition holds for its `for` fires;
//! it resolves when the condition stops holding; once it has fired it does not fire again for
//! its `cooldown` (a flapping server gives one alert, not one a minute). Firing and resolving
//! are logged, sent to every connected host as an MCP logging notification, and POSTed to the
//! rule's webhook (with retries). Rules are read from the config in force at each evaluation,
//! so a reload changes them; the state of a rule that is gone is dropped.
#![expect(
    deprecated,
    reason = "logging is deprecated by SEP-2577/2026-07-28 but legacy hosts use it: alerts reach them as logging notifications"
)]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam};
use serde_json::json;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    backoff::Backoff,
    config::{AlertMetric, AlertRule, Config},
    dispatch::BoxFuture,
    engine::clock::{Clock, SystemClock},
    hub::Hub,
    report::{AlertReport, ServerState, StatusReport},
};

/// The subject of an orchestrator-wide metric.
const WIDE: &str = "-";
/// Webhook attempts per event.
const WEBHOOK_TRIES: u32 = 3;

/// A change an evaluation found.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The rule.
    pub rule: String,
    /// Its metric.
    pub metric: AlertMetric,
    /// The server (or `-`).
    pub subject: String,
    /// Fired or resolved.
    pub firing: bool,
    /// The value that decided it.
    pub value: f64,
    /// The rule's threshold.
    pub threshold: f64,
    /// Unix ms.
    pub at: i64,
}

#[derive(Debug, Default, Clone)]
struct Track {
    breaching_since: Option<i64>,
    firing_since: Option<i64>,
    last_fired: Option<i64>,
    value: f64,
    threshold: f64,
    metric: Option<AlertMetric>,
}

/// A rule's value per subject (`None`: no data).
pub type Measure<'a> = dyn Fn(&AlertRule) -> Vec<(String, Option<f64>)> + 'a;

/// The rules' state, keyed by (rule, subject).
#[derive(Debug, Default)]
pub struct Evaluator {
    tracks: HashMap<(String, String), Track>,
}

impl Evaluator {
    /// Evaluates `rules` at `now` (unix ms) on the values `measure` gives each rule (per
    /// subject; `None`: no data, which does not breach). Returns what fired and resolved.
    pub fn step(&mut self, rules: &[AlertRule], measure: &Measure<'_>, now: i64) -> Vec<Event> {
        let mut events = Vec::new();
        self.tracks
            .retain(|(rule, _), _| rules.iter().any(|r| &r.name == rule));
        for rule in rules {
            let for_ms = rule.for_.as_millis() as i64;
            let cooldown_ms = rule.cooldown.as_millis() as i64;
            for (subject, value) in measure(rule) {
                let t = self
                    .tracks
                    .entry((rule.name.clone(), subject.clone()))
                    .or_default();
                t.threshold = rule.threshold;
                t.metric = Some(rule.metric);
                let breach = value.is_some_and(|v| {
                    if rule.below {
                        v < rule.threshold
                    } else {
                        v > rule.threshold
                    }
                });
                if let Some(v) = value {
                    t.value = v;
                }
                let event = |firing| Event {
                    rule: rule.name.clone(),
                    metric: rule.metric,
                    subject: subject.clone(),
                    firing,
                    value: t.value,
                    threshold: rule.threshold,
                    at: now,
                };
                if !breach {
                    t.breaching_since = None;
                    if t.firing_since.take().is_some() {
                        events.push(event(false));
                    }
                    continue;
                }
                let since = *t.breaching_since.get_or_insert(now);
                let held = now - since >= for_ms;
                let cooled = t.last_fired.is_none_or(|last| now - last >= cooldown_ms);
                if t.firing_since.is_none() && held && cooled {
                    t.firing_since = Some(now);
                    t.last_fired = Some(now);
                    events.push(event(true));
                }
            }
        }
        events
    }

    /// The rules pending, firing, or held back by their cooldown, for `status`.
    pub fn active(&self, now: i64) -> Vec<AlertReport> {
        let mut out: Vec<AlertReport> = self
            .tracks
            .iter()
            .filter_map(|((rule, subject), t)| {
                let (state, since) = match (t.firing_since, t.breaching_since) {
                    (Some(f), _) => ("firing", f),
                    (None, Some(b)) if t.last_fired.is_some() => ("suppressed", b),
                    (None, Some(b)) => ("pending", b),
                    (None, None) => return None,
                };
                let _ = now;
                Some(AlertReport {
                    rule: rule.clone(),
                    metric: t.metric.map_or("?", AlertMetric::as_str).to_owned(),
                    subject: subject.clone(),
                    state: state.to_owned(),
                    value: t.value,
                    threshold: t.threshold,
                    since,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.rule, &a.subject).cmp(&(&b.rule, &b.subject)));
        out
    }
}

/// Measures a rule on a status report; `calls` holds each server's (calls, errors) at the last
/// evaluation, for the error rate since then.
fn measure(
    rule: &AlertRule,
    report: &StatusReport,
    previous: &HashMap<String, (u64, u64)>,
) -> Vec<(String, Option<f64>)> {
    if !rule.metric.per_server() {
        let pending = report
            .jobs
            .as_ref()
            .map(|j| j.totals.get("pending").copied().unwrap_or(0) as f64);
        return vec![(WIDE.to_owned(), pending.or(Some(0.0)))];
    }
    report
        .servers
        .iter()
        .filter(|(id, _)| rule.server.as_ref().is_none_or(|s| s == *id))
        .map(|(id, s)| {
            let v = match rule.metric {
                AlertMetric::ErrorRate => {
                    let (calls, errors) = previous.get(id).copied().unwrap_or((0, 0));
                    let d_calls = s.metrics.calls.saturating_sub(calls);
                    let d_errors = s.metrics.errors.saturating_sub(errors);
                    (d_calls > 0).then(|| d_errors as f64 / d_calls as f64)
                }
                AlertMetric::P99LatencyMs => s.metrics.latency_us.map(|p| p.p99 as f64 / 1000.0),
                AlertMetric::NotRunning => Some(f64::from(u8::from(!matches!(
                    s.state,
                    ServerState::Running | ServerState::Disabled
                )))),
                AlertMetric::Restarts => Some(f64::from(s.restarts)),
                AlertMetric::CpuPercent => s.usage.map(|u| u.cpu_percent),
                AlertMetric::RssMb => s.usage.map(|u| u.rss_bytes as f64 / 1_048_576.0),
                AlertMetric::BreakerOpen => Some(f64::from(u8::from(matches!(
                    s.circuit,
                    Some(crate::report::CircuitState::Open)
                )))),
                AlertMetric::QueueDepth => None,
            };
            (id.clone(), v)
        })
        .collect()
}

/// Makes the status report an evaluation reads.
pub type Source = Arc<dyn Fn() -> BoxFuture<'static, StatusReport> + Send + Sync>;

/// The running alerts: the evaluator behind a lock, for the runner and `status`.
#[derive(Default)]
pub struct Alerts {
    evaluator: Mutex<Evaluator>,
}

impl Alerts {
    /// What is pending, firing or suppressed now.
    pub fn active(&self) -> Vec<AlertReport> {
        self.evaluator
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .active(SystemClock.now_ms())
    }

    /// Evaluates the rules of the config in force every `resource_sample_interval` until
    /// shutdown, and tells of every change.
    pub fn start(
        self: &Arc<Self>,
        config: Arc<arc_swap::ArcSwap<Config>>,
        source: Source,
        hub: Arc<Hub>,
        tracker: TaskTracker,
        stop: CancellationToken,
    ) {
        let alerts = self.clone();
        let tasks = tracker.clone();
        tracker.spawn(async move {
            let http = reqwest::Client::new();
            let mut previous: HashMap<String, (u64, u64)> = HashMap::new();
            loop {
                let interval = config.load().settings.resource_sample_interval;
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(interval) => {}
                }
                let rules = config.load().alerts.clone();
                if rules.is_empty() {
                    continue;
                }
                let report = source().await;
                let events = {
                    let mut e = alerts.evaluator.lock().unwrap_or_else(|p| p.into_inner());
                    e.step(
                        &rules,
                        &|r| measure(r, &report, &previous),
                        SystemClock.now_ms(),
                    )
                };
                previous = report
                    .servers
                    .iter()
                    .map(|(id, s)| (id.clone(), (s.metrics.calls, s.metrics.errors)))
                    .collect();
                for event in events {
                    let rule = rules.iter().find(|r| r.name == event.rule).cloned();
                    announce(&event, &hub).await;
                    if let Some(url) = rule.and_then(|r| r.webhook) {
                        let http = http.clone();
                        tasks.spawn(async move { post(&http, &url, &event).await });
                    }
                }
            }
        });
    }
}

fn payload(e: &Event) -> serde_json::Value {
    json!({
        "alert": e.rule,
        "status": if e.firing { "firing" } else { "resolved" },
        "metric": e.metric.as_str(),
        "server": e.subject,
        "value": e.value,
        "threshold": e.threshold,
        "at": e.at,
    })
}

/// Logs the event and sends it to every host as a logging notification.
async fn announce(e: &Event, hub: &Hub) {
    if e.firing {
        tracing::warn!(alert = %e.rule, metric = e.metric.as_str(), server = %e.subject, value = e.value, threshold = e.threshold, "alert firing");
    } else {
        tracing::info!(alert = %e.rule, metric = e.metric.as_str(), server = %e.subject, value = e.value, "alert resolved");
    }
    let level = if e.firing {
        LoggingLevel::Warning
    } else {
        LoggingLevel::Info
    };
    let mut note = LoggingMessageNotificationParam::new(level, payload(e));
    note.logger = Some("mcp-orchestrator/alerts".into());
    for host in hub.hosts() {
        let _ = host.notify_logging_message(note.clone()).await;
    }
}

/// POSTs the event to a webhook, retrying with backoff.
async fn post(http: &reqwest::Client, url: &str, e: &Event) {
    let body = payload(e).to_string();
    for attempt in 0..WEBHOOK_TRIES {
        let sent = http
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => {
                tracing::warn!(alert = %e.rule, status = %r.status(), attempt, "alert webhook refused")
            }
            Err(err) => {
                // Without the URL: a webhook's URL may carry its credential.
                let err = err.without_url();
                tracing::warn!(alert = %e.rule, error = %err, attempt, "alert webhook unreachable")
            }
        }
        tokio::time::sleep(Backoff::RETRY.delay(attempt, fastrand::f64())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(for_s: u64, cooldown_s: u64) -> AlertRule {
        AlertRule {
            name: "errors".into(),
            metric: AlertMetric::ErrorRate,
            server: None,
            threshold: 0.5,
            below: false,
            for_: Duration::from_secs(for_s),
            cooldown: Duration::from_secs(cooldown_s),
            webhook: None,
        }
    }

    /// Steps the evaluator through `(at_s, value)` readings of one subject.
    fn run(
        e: &mut Evaluator,
        rules: &[AlertRule],
        readings: &[(i64, Option<f64>)],
    ) -> Vec<(i64, bool)> {
        let mut out = Vec::new();
        for (at, v) in readings {
            let v = *v;
            for ev in e.step(rules, &|_| vec![("fx".into(), v)], at * 1000) {
                out.push((*at, ev.firing));
            }
        }
        out
    }

    #[test]
    fn it_fires_after_for_and_resolves_when_the_condition_goes() {
        let rules = [rule(10, 0)];
        let mut e = Evaluator::default();
        let events = run(
            &mut e,
            &rules,
            &[
                (0, Some(1.0)),
                (5, Some(1.0)),
                (10, Some(1.0)),
                (15, Some(0.9)),
                (20, Some(0.0)),
            ],
        );
        assert_eq!(events, [(10, true), (20, false)]);
        // A dip below the threshold restarts the `for` clock.
        let events = run(
            &mut e,
            &rules,
            &[
                (30, Some(1.0)),
                (35, Some(0.1)),
                (40, Some(1.0)),
                (45, Some(1.0)),
                (50, Some(1.0)),
            ],
        );
        assert_eq!(events, [(50, true)]);
    }

    #[test]
    fn the_cooldown_keeps_a_flapping_server_to_one_alert() {
        let rules = [rule(0, 60)];
        let mut e = Evaluator::default();
        let events = run(
            &mut e,
            &rules,
            &[
                (0, Some(1.0)),
                (5, Some(0.0)),
                (10, Some(1.0)),
                (20, Some(0.0)),
                (30, Some(1.0)),
            ],
        );
        assert_eq!(
            events,
            [(0, true), (5, false)],
            "quiet within 60 s of firing"
        );
        assert_eq!(e.active(0)[0].state, "suppressed");
        let events = run(&mut e, &rules, &[(61, Some(1.0))]);
        assert_eq!(events, [(61, true)], "after the cooldown it fires again");
        assert_eq!(e.active(0)[0].state, "firing");
    }

    #[test]
    fn no_data_does_not_breach_and_removed_rules_are_forgotten() {
        let mut e = Evaluator::default();
        let rules = [rule(0, 0)];
        assert!(run(&mut e, &rules, &[(0, None), (1, None)]).is_empty());
        run(&mut e, &rules, &[(2, Some(1.0))]);
        assert_eq!(e.active(0).len(), 1);
        e.step(&[], &|_| Vec::new(), 3_000);
        assert!(e.active(0).is_empty());
    }

    #[test]
    fn below_thresholds_and_the_error_rate_since_the_last_evaluation() {
        let mut low = rule(0, 0);
        low.below = true;
        low.threshold = 1.0;
        let mut e = Evaluator::default();
        assert_eq!(run(&mut e, &[low], &[(0, Some(0.5))]), [(0, true)]);
        let mut report: StatusReport =
            serde_json::from_value(json!({"servers": {}, "routing": {}, "config": "c"})).unwrap();
        let server: crate::report::ServerReport = serde_json::from_value(json!({
            "state": "running", "missing_env": [], "pid": null, "restarts": 0, "tools": [],
            "last_error": null, "uptime_s": null, "name": null, "description": null,
            "protocol_version": null, "server_info": null, "prompts": 0, "resources": 0,
            "metrics": {"calls": 10, "errors": 6, "latency_us": null, "overhead_us": null, "last_error": null}
        }))
        .unwrap();
        report.servers.insert("fx".into(), server);
        let previous = HashMap::from([("fx".to_owned(), (6, 2))]);
        let v = measure(&rule(0, 0), &report, &previous);
        assert_eq!(
            v,
            [("fx".to_owned(), Some(1.0))],
            "4 errors of 4 calls since"
        );
        let v = measure(
            &rule(0, 0),
            &report,
            &HashMap::from([("fx".to_owned(), (10, 6))]),
        );
        assert_eq!(v, [("fx".to_owned(), None)], "no calls since: no data");
    }
}
