//! The orchestrator as an MCP client of one child: what it declares, and where the child's
//! notifications and requests go.

#![expect(
    deprecated,
    reason = "sampling, roots and logging are deprecated by SEP-2577 but still used by legacy hosts"
)]

use std::sync::Arc;

use rmcp::{
    ClientHandler, ErrorData as McpError, RoleClient,
    model::{
        ClientCapabilities, ClientConfig, CreateMessageRequest, CreateMessageRequestParams,
        CreateMessageResult, CustomNotification, ElicitRequest, ElicitRequestParams, ElicitResult,
        Implementation, InputRequest, ListRootsRequest, ListRootsResult,
        LoggingMessageNotificationParam, ProgressNotificationParam, ProtocolVersion,
        ResourceUpdatedNotificationParam, ServerNotification,
    },
    service::{NotificationContext, RequestContext},
};
use tokio::sync::{mpsc, oneshot};

use crate::hub::{Ask, Change, Hub};

/// Something the child said that its supervisor must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildEvent {
    /// Its tools, prompts or resources changed: re-list them.
    ListsChanged,
}

/// The per-connection client handler.
pub struct ChildClient {
    server: Arc<str>,
    hub: Arc<Hub>,
    events: mpsc::UnboundedSender<ChildEvent>,
}

impl ChildClient {
    /// A handler for child `server` that reports list changes on `events`.
    pub fn new(server: Arc<str>, hub: Arc<Hub>, events: mpsc::UnboundedSender<ChildEvent>) -> Self {
        Self {
            server,
            hub,
            events,
        }
    }

    fn host_or_error(&self) -> Result<rmcp::Peer<rmcp::RoleServer>, McpError> {
        self.hub.host().ok_or_else(|| {
            McpError::internal_error(
                "no MCP host is connected to mcp-orchestrator to answer this request",
                None,
            )
        })
    }
}

impl ChildClient {
    /// Hands `request` to the stateless host call in flight to this child, if there is one, and
    /// waits for the host's answer to come back with its retry. `None`: no such call, ask the
    /// legacy host.
    async fn ask_stateless_host<T: serde::de::DeserializeOwned>(
        &self,
        request: InputRequest,
    ) -> Option<Result<T, McpError>> {
        let route = match self.hub.ask_route(&self.server) {
            Ok(route) => route?,
            Err(n) => {
                return Some(Err(McpError::internal_error(
                    format!(
                        "{n} calls of stateless (2026-07-28) hosts are in flight to this server, and a request from it does not say which one it belongs to; make one call at a time"
                    ),
                    None,
                )));
            }
        };
        let (reply, answer) = oneshot::channel();
        if route.send(Ask { request, reply }).await.is_err() {
            return Some(Err(McpError::internal_error(
                "the call this request belongs to has ended",
                None,
            )));
        }
        Some(match answer.await {
            Ok(Ok(value)) => serde_json::from_value(value).map_err(|e| {
                McpError::internal_error(
                    format!("the host's answer has the wrong shape: {e}"),
                    None,
                )
            }),
            Ok(Err(why)) => Err(McpError::internal_error(why, None)),
            Err(_) => Err(McpError::internal_error(
                "the MCP host did not answer (its call was cancelled or expired)",
                None,
            )),
        })
    }
}

fn host_error(e: rmcp::ServiceError) -> McpError {
    match e {
        rmcp::ServiceError::McpError(e) => e,
        e => McpError::internal_error(format!("the MCP host did not answer: {e}"), None),
    }
}

impl ClientHandler for ChildClient {
    fn get_info(&self) -> ClientConfig {
        // Children start before a host connects, so we cannot mirror the host's capabilities; we
        // declare what we can forward and return an error if the host turns out not to support it.
        ClientConfig::new(
            ClientCapabilities::builder()
                .enable_elicitation()
                .enable_sampling()
                .enable_roots()
                .enable_roots_list_changed()
                // A child's task is passed to a host that polls, and followed for one that
                // cannot (`dispatch::tasks`).
                .enable_tasks()
                .build(),
            Implementation::new("mcp-orchestrator", env!("CARGO_PKG_VERSION")),
        )
        // rmcp's default is 2026-07-28, which has no `initialize`; the contract pins 2025-11-25.
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    async fn on_progress(
        &self,
        p: ProgressNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.hub.forward_progress(&self.server, p).await;
    }

    async fn on_tool_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        let _ = self.events.send(ChildEvent::ListsChanged);
    }

    async fn on_prompt_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        let _ = self.events.send(ChildEvent::ListsChanged);
    }

    async fn on_resource_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        let _ = self.events.send(ChildEvent::ListsChanged);
    }

    async fn on_resource_updated(
        &self,
        p: ResourceUpdatedNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.hub.announce(Change::ResourceUpdated(p.uri)).await;
    }

    async fn on_logging_message(
        &self,
        mut p: LoggingMessageNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        p.logger = Some(match p.logger.take() {
            Some(l) => format!("{}/{l}", self.server),
            None => self.server.to_string(),
        });
        for host in self.hub.hosts() {
            let _ = host.notify_logging_message(p.clone()).await;
        }
    }

    async fn on_custom_notification(
        &self,
        n: CustomNotification,
        _cx: NotificationContext<RoleClient>,
    ) {
        for host in self.hub.hosts() {
            let _ = host
                .send_notification(ServerNotification::CustomNotification(n.clone()))
                .await;
        }
    }

    async fn create_elicitation(
        &self,
        req: ElicitRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        let request = InputRequest::Elicitation(ElicitRequest::new(req.clone()));
        if let Some(answer) = self.ask_stateless_host(request).await {
            return answer;
        }
        self.host_or_error()?
            .create_elicitation(req)
            .await
            .map_err(host_error)
    }

    async fn create_message(
        &self,
        req: CreateMessageRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        let request = InputRequest::CreateMessage(CreateMessageRequest::new(req.clone()));
        if let Some(answer) = self.ask_stateless_host(request).await {
            return answer;
        }
        self.host_or_error()?
            .create_message(req)
            .await
            .map_err(host_error)
    }

    async fn list_roots(
        &self,
        _cx: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, McpError> {
        let request = InputRequest::ListRoots(ListRootsRequest::default());
        if let Some(answer) = self.ask_stateless_host(request).await {
            return answer;
        }
        self.host_or_error()?.list_roots().await.map_err(host_error)
    }
}
