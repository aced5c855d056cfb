//! A child's tools, prompts, resources and skills, fetched after `initialize` and after every
//! `list_changed` it sends.

use std::{sync::Arc, time::Duration};

use rmcp::model::{PaginatedRequestParams, ServerCapabilities};

use super::{
    Running,
    child_client::ChildEvent,
    state::{CacheHints, ChildStatus},
};

/// A child's lists at one moment.
pub(super) struct Lists {
    pub(super) tools: Vec<rmcp::model::Tool>,
    prompts: Vec<rmcp::model::Prompt>,
    resources: Vec<rmcp::model::Resource>,
    templates: Vec<rmcp::model::ResourceTemplate>,
    skills: Vec<rmcp::model::Skill>,
    hints: Option<CacheHints>,
}

impl Lists {
    pub(super) fn apply(self, s: &mut ChildStatus) {
        s.cache_hints = self.hints;
        s.tools = Arc::new(self.tools);
        s.prompts = Arc::new(self.prompts);
        s.resources = Arc::new(self.resources);
        s.resource_templates = Arc::new(self.templates);
        s.skills = Arc::new(self.skills);
    }
}

/// Every page of a list, and the hints of all its pages together.
async fn all_pages<R, T, F, Fut>(
    mut page: F,
    split: impl Fn(R) -> (Vec<T>, Option<String>, CacheHints),
) -> Result<(Vec<T>, CacheHints), rmcp::ServiceError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<R, rmcp::ServiceError>>,
{
    let mut items = Vec::new();
    let mut hints: Option<CacheHints> = None;
    let mut cursor = None;
    loop {
        let (mut more, next, h) = split(page(cursor).await?);
        items.append(&mut more);
        hints = Some(hints.map_or(h, |all| all.and(h)));
        cursor = next;
        if cursor.is_none() {
            return Ok((items, hints.unwrap_or_default()));
        }
    }
}

/// Lists tools, and prompts, resources and skills where the child declares them.
pub(super) async fn list_everything(running: &Running, limit: Duration) -> Result<Lists, String> {
    let caps: ServerCapabilities = running
        .peer_info()
        .map(|i| i.capabilities.clone())
        .unwrap_or_default();
    let work = async {
        let mut hints: Option<CacheHints> = None;
        let mut hinted = |h: CacheHints| hints = Some(hints.map_or(h, |all| all.and(h)));
        let tools = if caps.tools.is_some() {
            let (items, h) = all_pages(
                |cursor| {
                    running.list_tools(Some(PaginatedRequestParams::default().with_cursor(cursor)))
                },
                |r| {
                    (
                        r.tools,
                        r.next_cursor,
                        CacheHints::of(r.ttl_ms, r.cache_scope),
                    )
                },
            )
            .await
            .map_err(|e| format!("tools/list: {e}"))?;
            hinted(h);
            items
        } else {
            Vec::new()
        };
        let prompts = if caps.prompts.is_some() {
            let (items, h) = all_pages(
                |cursor| {
                    running
                        .list_prompts(Some(PaginatedRequestParams::default().with_cursor(cursor)))
                },
                |r| {
                    (
                        r.prompts,
                        r.next_cursor,
                        CacheHints::of(r.ttl_ms, r.cache_scope),
                    )
                },
            )
            .await
            .map_err(|e| format!("prompts/list: {e}"))?;
            hinted(h);
            items
        } else {
            Vec::new()
        };
        let (resources, templates) = if caps.resources.is_some() {
            let (resources, h) = all_pages(
                |cursor| {
                    running
                        .list_resources(Some(PaginatedRequestParams::default().with_cursor(cursor)))
                },
                |r| {
                    (
                        r.resources,
                        r.next_cursor,
                        CacheHints::of(r.ttl_ms, r.cache_scope),
                    )
                },
            )
            .await
            .map_err(|e| format!("resources/list: {e}"))?;
            hinted(h);
            let (templates, h) = all_pages(
                |cursor| {
                    running.list_resource_templates(Some(
                        PaginatedRequestParams::default().with_cursor(cursor),
                    ))
                },
                |r| {
                    (
                        r.resource_templates,
                        r.next_cursor,
                        CacheHints::of(r.ttl_ms, r.cache_scope),
                    )
                },
            )
            .await
            .map_err(|e| format!("resources/templates/list: {e}"))?;
            hinted(h);
            (resources, templates)
        } else {
            (Vec::new(), Vec::new())
        };
        let skills = if caps.supports_skills() {
            list_skills(running).await
        } else {
            Vec::new()
        };
        Ok(Lists {
            tools,
            prompts,
            resources,
            templates,
            skills,
            hints,
        })
    };
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| format!("listing took longer than {} s", limit.as_secs_f64()))?
}

/// A child's skills. SEP-2640 has no list-changed notification of its own: skill files are
/// resources, so a child announces a new or changed skill with `resources/list_changed`, which
/// re-lists everything, skills included.
///
/// A failing `skills/list` leaves the child without skills rather than failing the listing: an
/// extension must not cost a child its tools.
async fn list_skills(running: &Running) -> Vec<rmcp::model::Skill> {
    running.list_all_skills().await.unwrap_or_else(|e| {
        // No server id at hand here (the callers log with it): the child's own name tells which.
        let child = running
            .peer_info()
            .and_then(|i| i.server_info.as_ref().map(|s| s.name.clone()));
        tracing::warn!(child = ?child, error = %e, "skills/list failed; the child's skills are left out");
        Vec::new()
    })
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
