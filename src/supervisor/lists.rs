//! A child's tools, prompts and resources, fetched after `initialize` and after every
//! `list_changed` it sends.

use std::{sync::Arc, time::Duration};

use rmcp::model::ServerCapabilities;

use super::{Running, child_client::ChildEvent, state::ChildStatus};

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

/// A stateless child has no session to notify: its list changes come on a
/// `subscriptions/listen` stream, held open while the connection lives, and are reported as
/// [`ChildEvent::ListsChanged`] like a handshake-era child's notifications.
pub async fn listen(
    server: Arc<str>,
    peer: rmcp::Peer<rmcp::RoleClient>,
    events: tokio::sync::mpsc::UnboundedSender<ChildEvent>,
    stop: tokio_util::sync::CancellationToken,
) {
    let filter = rmcp::model::SubscriptionFilter::builder()
        .tools_list_changed()
        .prompts_list_changed()
        .resources_list_changed()
        .build();
    let mut subscription = tokio::select! {
        () = stop.cancelled() => return,
        s = peer.listen(filter) => match s {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(server = %server, error = %e, "child offers no subscriptions/listen; its lists are read at start and on reload");
                return;
            }
        },
    };
    loop {
        let next = tokio::select! {
            () = stop.cancelled() => return,
            n = subscription.next() => n,
        };
        match next {
            Ok(Some(_)) => {
                if events.send(ChildEvent::ListsChanged).is_err() {
                    return;
                }
            }
            Ok(None) | Err(_) => return,
        }
    }
}
