//! The supervisor task's phase loop: what happens between connections (backoff, the crash
//! window, `failed`, control requests). Starting a connection is in [`super::start`], living with
//! one in [`super::conn`].
//!
//! ```text
//!            ┌──────────── restart request ─────────────┐
//!            ▼                                           │
//!  Start ─► Serve ── crash / hang ─► Backoff ─► Start    │
//!    │                    │                              │
//!    └─ start failed ─────┴─ too many in window ─► Failed ┘
//!  any phase ── stop / shutdown ─► stopped (task ends)
//! ```

use std::{sync::Arc, time::Duration};

use tokio::{
    sync::{mpsc, oneshot, watch},
    time::Instant,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    Control,
    failure::Failure,
    process,
    state::{ChildStatus, ServerState},
    stderr::StderrTail,
};
use crate::{
    backoff::{Backoff, RestartWindow},
    config::{ServerSpec, Settings},
    hub::Hub,
    secrets::Redactor,
};

/// Lines of stderr quoted in `last_error`.
const STDERR_LINES_IN_ERROR: usize = 12;

/// A control request (or shutdown) that ends whatever the task is doing.
pub(super) enum Interrupt {
    /// Start afresh, forgetting the crash history; acknowledged once the new start has begun.
    Restart(oneshot::Sender<()>),
    /// Stop for good; acknowledged (when someone asked) once the process group is gone.
    Stop(Option<oneshot::Sender<()>>),
}

/// How a start or a live connection ended.
pub(super) enum Ended {
    Crashed(Failure),
    Interrupted(Interrupt),
}

/// What ended a wait between connections.
enum Wake {
    Timer,
    Interrupted(Interrupt),
}

/// What to do next.
enum Phase {
    Start,
    Backoff(Duration),
    Failed,
}

/// The state the supervisor task owns.
pub(super) struct Supervisor {
    pub(super) id: Arc<str>,
    pub(super) spec: Arc<ServerSpec>,
    pub(super) settings: Settings,
    pub(super) hub: Arc<Hub>,
    pub(super) status: watch::Sender<ChildStatus>,
    pub(super) control: mpsc::Receiver<Control>,
    pub(super) tracker: TaskTracker,
    pub(super) shutdown: CancellationToken,
    pub(super) tail: StderrTail,
    pub(super) redactor: Redactor,
    window: RestartWindow,
    backoff: Backoff,
}

impl Supervisor {
    pub(super) fn new(
        spec: Arc<ServerSpec>,
        settings: Settings,
        hub: Arc<Hub>,
        status: watch::Sender<ChildStatus>,
        control: mpsc::Receiver<Control>,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        let window = RestartWindow::new(settings.max_restarts, settings.restart_window);
        Self {
            id: spec.id.as_str().into(),
            redactor: spec.redactor(),
            spec,
            settings,
            hub,
            status,
            control,
            tracker,
            shutdown,
            tail: StderrTail::default(),
            window,
            backoff: Backoff::DEFAULT,
        }
    }

    pub(super) async fn run(mut self) {
        let initial = self.status.borrow().state;
        if matches!(initial, ServerState::Disabled | ServerState::MissingEnv) {
            if initial == ServerState::MissingEnv {
                tracing::info!(server = %self.id, missing = ?self.spec.missing_env, "not started: required environment variables are unset");
            }
            self.idle_until_stopped().await;
            return;
        }
        if !self.wait_until_installed().await {
            return;
        }
        let mut phase = Phase::Start;
        loop {
            let ended = match phase {
                Phase::Start => match self.start().await {
                    Ok(conn) => self.serve(conn).await,
                    Err(ended) => ended,
                },
                Phase::Backoff(delay) => match self.wait(Some(delay)).await {
                    Wake::Timer => {
                        self.bump_restarts();
                        phase = Phase::Start;
                        continue;
                    }
                    Wake::Interrupted(i) => Ended::Interrupted(i),
                },
                Phase::Failed => match self.wait(None).await {
                    Wake::Timer => continue,
                    Wake::Interrupted(i) => Ended::Interrupted(i),
                },
            };
            phase = match ended {
                Ended::Crashed(why) => self.after_crash(&why),
                Ended::Interrupted(Interrupt::Restart(ack)) => {
                    self.window.reset();
                    self.bump_restarts();
                    let _ = ack.send(());
                    Phase::Start
                }
                Ended::Interrupted(Interrupt::Stop(ack)) => return self.finish(ack),
            };
        }
    }

    pub(super) fn publish(&self, f: impl FnOnce(&mut ChildStatus)) {
        self.status.send_modify(f);
        self.hub.mark_surface_dirty();
    }

    fn bump_restarts(&self) {
        self.status.send_modify(|s| s.restarts += 1);
    }

    fn finish(&self, ack: Option<oneshot::Sender<()>>) {
        self.publish(|s| s.disconnected(ServerState::Stopped));
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
    }

    /// Disabled or missing env: nothing to run, but answer control requests. The informative
    /// state stays rather than becoming `stopped`.
    async fn idle_until_stopped(&mut self) {
        loop {
            match self.wait(None).await {
                Wake::Interrupted(Interrupt::Stop(ack)) => {
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                    return;
                }
                Wake::Interrupted(Interrupt::Restart(ack)) => {
                    let _ = ack.send(());
                }
                Wake::Timer => {}
            }
        }
    }

    /// A stdio child whose program is missing would only crash-loop into `failed`; it shows as
    /// `not_installed` with the command that builds or installs it, and is looked for again on a
    /// restart request. Returns false when stopped while waiting.
    async fn wait_until_installed(&mut self) -> bool {
        let spec = self.spec.clone();
        loop {
            let Some(launch) = spec.launch() else {
                return true;
            };
            if process::resolve_program(&launch.command).is_some() {
                return true;
            }
            let hint = process::not_found_hint(&launch.command);
            tracing::warn!(server = %self.id, hint = %hint, "not started: command not found");
            self.publish(|s| {
                s.disconnected(ServerState::NotInstalled);
                s.last_error = Some(hint);
            });
            match self.wait(None).await {
                Wake::Interrupted(Interrupt::Stop(ack)) => {
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                    return false;
                }
                Wake::Interrupted(Interrupt::Restart(ack)) => {
                    // Whoever asked waits for the new start: it must not see the old state.
                    if process::resolve_program(&launch.command).is_some() {
                        self.publish(|s| s.disconnected(ServerState::Starting));
                    }
                    let _ = ack.send(());
                }
                Wake::Timer => {}
            }
        }
    }

    /// A message from the control channel as an interrupt; `None` (every handle dropped) stops.
    pub(super) fn interrupt(msg: Option<Control>) -> Interrupt {
        match msg {
            Some(Control::Restart(ack)) => Interrupt::Restart(ack),
            Some(Control::Stop(ack)) => Interrupt::Stop(Some(ack)),
            None => Interrupt::Stop(None),
        }
    }

    /// Waits for a control request, shutdown, or (if given) the delay.
    async fn wait(&mut self, delay: Option<Duration>) -> Wake {
        let sleep = async {
            match delay {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = self.shutdown.cancelled() => Wake::Interrupted(Interrupt::Stop(None)),
            () = sleep => Wake::Timer,
            msg = self.control.recv() => Wake::Interrupted(Self::interrupt(msg)),
        }
    }

    fn after_crash(&mut self, why: &Failure) -> Phase {
        let tail = self.tail.last_lines(STDERR_LINES_IN_ERROR);
        let mut message = self.redactor.redact(&why.to_string());
        if !tail.is_empty() {
            message.push_str("; stderr: ");
            message.push_str(&tail);
        }
        if self.window.record(Instant::now()) {
            let delay = self
                .backoff
                .delay(self.window.recent().saturating_sub(1), fastrand::f64());
            tracing::warn!(server = %self.id, error = %message, ?delay, "child failed; restarting after backoff");
            self.publish(|s| {
                s.disconnected(ServerState::Restarting);
                s.last_error = Some(message);
            });
            Phase::Backoff(delay)
        } else {
            let max = self.settings.max_restarts;
            let window = self.settings.restart_window.as_secs_f64();
            tracing::error!(
                server = %self.id,
                error = %message,
                max_restarts = max,
                restart_window_s = window,
                "child crashed too often within the restart window; failed until the config changes or a restart is requested"
            );
            self.publish(|s| {
                s.disconnected(ServerState::Failed);
                s.last_error = Some(format!(
                    "gave up after more than {max} crashes in {window} s: {message}"
                ));
            });
            Phase::Failed
        }
    }
}
