//! Calls of stateless (2026-07-28) hosts to handshake-era children, held open between the host's
//! rounds. Such a child asks for input by sending a request mid-call; the host cannot be sent
//! one, so the call runs on a task of its own ([`Detached`]), its asks go back to the host as an
//! `InputRequiredResult` whose `requestState` names the parked call, and the host's retry hands
//! the answers to the child's waiting requests and waits on the same call again.
//!
//! A parked call lives in this process only: over HTTP, a host's retry must reach the replica
//! that parked it (it is refused elsewhere, saying so). A call nobody comes back for is
//! cancelled after [`PARK_TTL`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::model::{InputRequests, InputRequiredResult, InputResponses, ServerResult};
use tokio::sync::{mpsc, oneshot};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::input::PARKED_STATE;
use crate::{
    error::RouteError,
    hub::{Ask, AskRoute},
};

/// How long a parked call waits for the host's retry before it is cancelled.
pub const PARK_TTL: Duration = Duration::from_secs(300);

type Answer = oneshot::Sender<Result<serde_json::Value, String>>;

/// A call running on its own task, and the asks its child makes.
pub struct Detached {
    server: Arc<str>,
    asks: mpsc::Receiver<Ask>,
    done: oneshot::Receiver<Result<ServerResult, RouteError>>,
    /// Keeps the child's asks routed here.
    _route: AskRoute,
    cancel: CancellationToken,
    /// Asks handed to the host and not yet answered, by key.
    pending: Vec<(String, Answer)>,
    /// Keys handed out so far.
    asked: usize,
}

impl Detached {
    /// The call whose result comes on `done` and whose asks on `asks`; `cancel` stops it.
    pub fn new(
        server: Arc<str>,
        asks: mpsc::Receiver<Ask>,
        done: oneshot::Receiver<Result<ServerResult, RouteError>>,
        route: AskRoute,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            server,
            asks,
            done,
            _route: route,
            cancel,
            pending: Vec::new(),
            asked: 0,
        }
    }

    /// Turns asks into input requests under fresh keys, keeping their answer channels.
    fn hand_out(&mut self, first: Ask) -> InputRequests {
        let mut requests = InputRequests::new();
        let mut next = Some(first);
        while let Some(ask) = next {
            self.asked += 1;
            let key = format!("ask-{}", self.asked);
            requests.insert(key.clone(), ask.request);
            self.pending.push((key, ask.reply));
            // Asks already queued go out in the same round.
            next = self.asks.try_recv().ok();
        }
        requests
    }

    /// Gives each pending ask the host's answer under its key.
    fn answer(&mut self, mut answers: InputResponses) {
        for (key, reply) in self.pending.drain(..) {
            let answer = answers
                .remove(&key)
                .ok_or_else(|| format!("the MCP host's retry carried no answer for `{key}`"));
            let _ = reply.send(answer);
        }
    }
}

/// The calls parked now, by id.
pub struct Parked {
    calls: Mutex<HashMap<String, Detached>>,
    /// Where expiry timers run, and what ends them.
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Parked {
    /// An empty table whose timers run on `tracker` until `shutdown`.
    pub fn new(tracker: TaskTracker, shutdown: CancellationToken) -> Self {
        Self {
            calls: Mutex::default(),
            tracker,
            shutdown,
        }
    }

    /// Waits for `call` to finish or to ask for input; an ask parks it and becomes the
    /// `InputRequiredResult` the host gets. `cancel` is the host request's.
    pub async fn wait(
        self: &Arc<Self>,
        mut call: Detached,
        cancel: &CancellationToken,
    ) -> Result<ServerResult, RouteError> {
        let ask = tokio::select! {
            done = &mut call.done => {
                return done.unwrap_or_else(|_| Err(RouteError::Transport {
                    server: call.server.to_string(),
                    message: "the call ended without an answer".into(),
                }));
            }
            Some(ask) = call.asks.recv() => ask,
            () = cancel.cancelled() => {
                call.cancel.cancel();
                return Err(RouteError::Transport {
                    server: call.server.to_string(),
                    message: "request cancelled by the host".into(),
                });
            }
        };
        let requests = call.hand_out(ask);
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), call);
        self.expire(id.clone());
        Ok(ServerResult::InputRequiredResult(InputRequiredResult::new(
            Some(requests),
            Some(format!("{PARKED_STATE}{id}")),
        )))
    }

    /// The host's retry: answers the parked call's asks and waits on it again.
    pub async fn resume(
        self: &Arc<Self>,
        id: &str,
        answers: InputResponses,
        cancel: &CancellationToken,
    ) -> Result<ServerResult, RouteError> {
        let call = self
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        let Some(mut call) = call else {
            return Err(RouteError::StaleInput(
                "no call is waiting under this requestState: it finished, expired, was cancelled, or was started on another orchestrator replica (route a session's retries to the replica that answered it); make the call again".into(),
            ));
        };
        call.answer(answers);
        self.wait(call, cancel).await
    }

    /// Cancels the call parked as `id` if the host has not come back for it within the TTL.
    fn expire(self: &Arc<Self>, id: String) {
        let parked = Arc::downgrade(self);
        let shutdown = self.shutdown.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(PARK_TTL) => {}
                () = shutdown.cancelled() => {}
            }
            let Some(parked) = parked.upgrade() else {
                return;
            };
            let call = parked
                .calls
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            if let Some(call) = call {
                tracing::info!("a parked call's host did not come back; cancelling it");
                call.cancel.cancel();
            }
        });
    }
}
