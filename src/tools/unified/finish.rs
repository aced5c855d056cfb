//! How a unified request ends: the routing record on the answer (in `structuredContent` and
//! `_meta`), the failure message when no vendor served, metrics and the audit line.

use std::time::Duration;

use rmcp::model::{CallToolResult, ContentBlock, MetaObject};
use serde_json::{Value, json};

use super::route::Run;

/// The `_meta` key under which results carry the routing record.
pub const ROUTING_META: &str = "mcp-orchestrator/routing";

/// A duration in milliseconds, to the microsecond.
pub(super) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

impl Run<'_> {
    /// Every vendor failed (or none could be tried): a tool error a person can act on.
    pub(super) fn failed(&mut self) -> CallToolResult {
        // One reason per vendor (its last), with how often it was tried: three retries of the
        // same network error read as one problem.
        let mut reasons: Vec<(&str, &str, usize)> = Vec::new();
        for a in &self.routing.attempts {
            let Some(e) = &a.error else { continue };
            match reasons.iter_mut().find(|(v, _, _)| *v == a.vendor) {
                Some((_, last, n)) => {
                    *last = e;
                    *n += 1;
                }
                None => reasons.push((&a.vendor, e, 1)),
            }
        }
        let reasons: Vec<String> = reasons
            .into_iter()
            .map(|(vendor, e, n)| match n {
                1 => format!("{vendor}: {e}"),
                n => format!("{vendor} ({n} attempts): {e}"),
            })
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

    pub(super) fn record_metrics(&mut self, error: Option<&str>) {
        let total = self.started.elapsed();
        self.routing.total_ms = ms(total);
        self.routing.overhead_ms = ms(total.saturating_sub(self.outside));
        if let Some(m) = self.unified.metrics_of(self.tool) {
            m.record(total, self.outside, error);
        }
        crate::otel::set_routing(
            &tracing::Span::current(),
            self.routing.vendor.as_deref(),
            self.routing.attempts.len(),
        );
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
    pub(super) fn finish(
        &mut self,
        mut r: CallToolResult,
        error: Option<String>,
    ) -> CallToolResult {
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
        r.meta
            .get_or_insert_with(MetaObject::default)
            .insert(ROUTING_META.into(), routing);
        r
    }
}
