//! A child's tools, prompts and resources, fetched after `initialize` and after every
//! `list_changed` it sends.

use std::{sync::Arc, time::Duration};

use rmcp::model::ServerCapabilities;

use super::{Running, state::ChildStatus};

/// A child's lists at one moment.
pub(super) struct Lists {
    pub(super) tools: Vec<rmcp::model::Tool>,
    prompts: Vec<rmcp::model::Prompt>,
    resources: Vec<rmcp::model::Resource>,
    templates: Vec<rmcp::model::ResourceTemplate>,
}

impl Lists {
    pub(super) fn apply(self, s: &mut ChildStatus) {
        s.tools = Arc::new(self.tools);
        s.prompts = Arc::new(self.prompts);
        s.resources = Arc::new(self.resources);
        s.resource_templates = Arc::new(self.templates);
    }
}

/// Lists tools, and prompts and resources where the child declares them.
pub(super) async fn list_everything(running: &Running, limit: Duration) -> Result<Lists, String> {
    let caps: ServerCapabilities = running
        .peer_info()
        .map(|i| i.capabilities.clone())
        .unwrap_or_default();
    let work = async {
        let tools = if caps.tools.is_some() {
            running
                .list_all_tools()
                .await
                .map_err(|e| format!("tools/list: {e}"))?
        } else {
            Vec::new()
        };
        let prompts = if caps.prompts.is_some() {
            running
                .list_all_prompts()
                .await
                .map_err(|e| format!("prompts/list: {e}"))?
        } else {
            Vec::new()
        };
        let (resources, templates) = if caps.resources.is_some() {
            (
                running
                    .list_all_resources()
                    .await
                    .map_err(|e| format!("resources/list: {e}"))?,
                running
                    .list_all_resource_templates()
                    .await
                    .map_err(|e| format!("resources/templates/list: {e}"))?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(Lists {
            tools,
            prompts,
            resources,
            templates,
        })
    };
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| format!("listing took longer than {} s", limit.as_secs_f64()))?
}
