//! `list_models`: every usable vendor at once, their lists merged.

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::{
    outcome::{Outcome, classify},
    route::{Run, caller_error_text},
};
use crate::{error::RouteError, join::join_all, report::AttemptOutcome};

impl Run<'_> {
    pub(super) async fn list_models(
        &mut self,
        order: &[String],
        args: Map<String, Value>,
    ) -> Result<CallToolResult, RouteError> {
        let mut live = Vec::new();
        for vendor in order {
            if self.usable(vendor).await {
                live.push(vendor.clone());
            }
        }
        let this = &*self;
        let calls = live.iter().map(|vendor| {
            let args = args.clone();
            async move {
                let t0 = Instant::now();
                let remaining = this.deadline.saturating_duration_since(t0);
                let r = this.call_vendor(vendor, args, remaining).await;
                (vendor.clone(), r, t0.elapsed())
            }
        });
        let answers = join_all(calls).await;
        let mut models = Vec::new();
        for (vendor, r, took) in answers {
            self.outside = self.outside.max(took);
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
                    self.attempt(&vendor, AttemptOutcome::Ok, None, took);
                }
                Outcome::VendorFailure(f) => {
                    self.attempt(&vendor, AttemptOutcome::Failed, Some(f.message), took);
                }
                Outcome::CallerError(reply) => {
                    let error = caller_error_text(&reply);
                    self.attempt(&vendor, AttemptOutcome::CallerError, Some(error), took);
                }
            }
        }
        let answered = self
            .routing
            .attempts
            .iter()
            .filter(|a| a.outcome == AttemptOutcome::Ok)
            .count();
        if answered == 0 {
            return Ok(self.failed());
        }
        let text = format!("{} models from {answered} vendors", models.len());
        let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
        r.structured_content = Some(json!({"models": models}));
        Ok(self.finish(r, None))
    }
}
