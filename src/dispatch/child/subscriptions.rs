//! `resources/subscribe` of a handshake-era host toward a stateless child, which has no such
//! method: the subscription becomes a `subscriptions/listen` stream to the child naming the URI,
//! and each `notifications/resources/updated` on it goes to the hosts as the child's own would.

use std::sync::Arc;

use rmcp::model::{ServerNotification, SubscriptionFilter};
use tokio_util::sync::CancellationToken;

use super::ChildDispatcher;
use crate::{error::RouteError, hub::Change};

impl ChildDispatcher {
    /// Opens (once per server and URI) a listen stream to `server` for updates of `uri`.
    pub async fn subscribe_by_listen(
        &self,
        server: &Arc<str>,
        uri: &str,
    ) -> Result<(), RouteError> {
        let key = (server.clone(), uri.to_owned());
        if self
            .listens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&key)
        {
            return Ok(());
        }
        let child = self
            .registry
            .child(server)
            .ok_or_else(|| RouteError::Unknown {
                kind: crate::error::ItemKind::Server,
                name: server.to_string(),
            })?;
        let peer = child.peer().ok_or_else(|| RouteError::Closed {
            server: server.to_string(),
            method: "subscriptions/listen",
        })?;
        let filter = SubscriptionFilter::builder()
            .resource_subscription(uri)
            .build();
        let mut subscription = peer
            .listen(filter)
            .await
            .map_err(|e| RouteError::from_service(server, "subscriptions/listen", e))?;
        let stop = self.registry.shutdown().child_token();
        self.listens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), stop.clone());
        let hub = self.registry.hub().clone();
        let listens = self.listens.clone();
        self.registry.tracker().spawn(async move {
            loop {
                let next = tokio::select! {
                    () = stop.cancelled() => break,
                    n = subscription.next() => n,
                };
                match next {
                    Ok(Some(ServerNotification::ResourceUpdatedNotification(n))) => {
                        hub.announce(Change::ResourceUpdated(n.params.uri)).await;
                    }
                    Ok(Some(_)) => {}
                    // The child ended the stream (or died): the subscription is over; a host
                    // that still wants it subscribes again after the child's list_changed.
                    Ok(None) | Err(_) => break,
                }
            }
            listens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
        });
        Ok(())
    }

    /// Closes the listen stream for `uri` on `server`, if one is open.
    pub fn unsubscribe_by_listen(&self, server: &Arc<str>, uri: &str) {
        let key = (server.clone(), uri.to_owned());
        if let Some(stop) = self
            .listens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key)
        {
            stop.cancel();
        }
    }
}

/// Open listen streams standing in for subscriptions, by server and URI.
pub type Listens =
    Arc<std::sync::Mutex<std::collections::HashMap<(Arc<str>, String), CancellationToken>>>;
