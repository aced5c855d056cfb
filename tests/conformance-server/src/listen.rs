//! SEP-2575 `subscriptions/listen`: the open listen streams, so a trigger tool called on one
//! request can announce a list change on every other client's stream.
//!
//! In stateless HTTP every request gets a fresh handler, so the streams live here, in state
//! shared by all handlers, not in a handler.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU64, Ordering},
};

use rmcp::service::{SubscriptionContext, SubscriptionSendError, SubscriptionSink};

/// The resource whose updates a listen stream can subscribe to.
pub const WATCHED_RESOURCE: &str = "test://watched-resource";

/// A list whose change a trigger tool announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Tools,
    Prompts,
    Resources,
}

impl Change {
    pub fn label(self) -> &'static str {
        match self {
            Self::Tools => "tool",
            Self::Prompts => "prompt",
            Self::Resources => "resource",
        }
    }
}

/// How often each list has been changed by a trigger tool: the lists really change (a marker
/// entry whose description counts the changes), so a client, or a proxy that announces only
/// real changes, sees a different list after each trigger.
#[derive(Debug, Default)]
pub struct Generations {
    counts: [AtomicU64; 3],
}

impl Generations {
    fn slot(change: Change) -> usize {
        match change {
            Change::Tools => 0,
            Change::Prompts => 1,
            Change::Resources => 2,
        }
    }

    /// Records one more change of `change`'s list.
    pub fn bump(&self, change: Change) {
        self.counts[Self::slot(change)].fetch_add(1, Ordering::Relaxed);
    }

    /// How often `change`'s list has changed.
    pub fn of(&self, change: Change) -> u64 {
        self.counts[Self::slot(change)].load(Ordering::Relaxed)
    }
}

/// Every open `subscriptions/listen` stream, by a local id.
#[derive(Debug, Default)]
pub struct Listeners {
    sinks: Arc<Mutex<Vec<(u64, SubscriptionSink)>>>,
    next_id: AtomicU64,
}

/// Removes its stream from [`Listeners`] when the listen call ends, however it ends (rmcp may
/// drop the handler future when the client goes away).
struct Registration {
    sinks: Arc<Mutex<Vec<(u64, SubscriptionSink)>>>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.sinks).retain(|(id, _)| *id != self.id);
    }
}

impl Listeners {
    /// Serve one listen stream: register its sink, then wait for the client to cancel it.
    /// rmcp has already sent the acknowledgement, and filters what the sink lets through.
    pub async fn listen(&self, subscription: SubscriptionContext) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.sinks).push((id, subscription.sink().clone()));
        let _registration = Registration {
            sinks: self.sinks.clone(),
            id,
        };
        subscription.cancelled().await;
    }

    /// Send a list-changed notification to every stream that asked for it; returns how many
    /// streams it reached.
    pub async fn announce(&self, change: Change) -> usize {
        // Clone the sinks out, so the lock is not held across the sends.
        let sinks: Vec<SubscriptionSink> = lock(&self.sinks)
            .iter()
            .map(|(_, sink)| sink.clone())
            .collect();
        let mut reached = 0;
        for sink in sinks {
            let sent = match change {
                Change::Tools => sink.notify_tool_list_changed().await,
                Change::Prompts => sink.notify_prompt_list_changed().await,
                Change::Resources => {
                    // The watched resource changes with the list: a stream subscribed to its
                    // URI hears of it (the sink drops it for streams that did not ask).
                    let _ = sink.notify_resource_updated(WATCHED_RESOURCE).await;
                    sink.notify_resource_list_changed().await
                }
            };
            match sent {
                Ok(()) => reached += 1,
                // The stream's filter excludes this change, or the stream just closed.
                Err(
                    SubscriptionSendError::NotificationNotAccepted(_)
                    | SubscriptionSendError::SubscriptionClosed,
                ) => {}
                Err(error) => tracing::warn!(%error, "could not notify a listen stream"),
            }
        }
        reached
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
