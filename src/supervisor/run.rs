//! The supervisor task's phase loop.
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

use rmcp::{RoleClient, ServiceExt, model::ServerCapabilities, service::RunningService};
use tokio::{
    process::Child,
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
    time::Instant,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    Control,
    backoff::{Backoff, RestartWindow},
    child_client::{ChildClient, ChildEvent},
    child_io::ChildTransport,
    health, process,
    state::{ChildStatus, ServerState},
    stderr::{self, StderrTail},
};
use crate::{
    config::{ServerSpec, Settings},
    hub::Hub,
    secrets::Redactor,
};

/// Lines of stderr quoted in `last_error`.
const STDERR_LINES_IN_ERROR: usize = 12;

/// One live child: connection, process (none for a remote server), and the tasks attached.
struct Conn {
    running: RunningService<RoleClient, ChildClient>,
    process: Option<Spawned>,
    events: mpsc::UnboundedReceiver<ChildEvent>,
    health: mpsc::Receiver<bool>,
    health_stop: CancellationToken,
}

/// A process that has been spawned but not yet connected.
struct Spawned {
    child: Child,
    pgid: u32,
    stderr_task: JoinHandle<()>,
}

/// Why a connection ended.
enum Ended {
    Crashed(String),
    Restart(oneshot::Sender<()>),
    Stop(Option<oneshot::Sender<()>>),
}

/// What to do next.
enum Phase {
    Start,
    Backoff(Duration),
    Failed,
}

/// The state the supervisor task owns.
pub(super) struct Supervisor {
    id: Arc<str>,
    spec: Arc<ServerSpec>,
    settings: Settings,
    hub: Arc<Hub>,
    status: watch::Sender<ChildStatus>,
    control: mpsc::Receiver<Control>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    tail: StderrTail,
    redactor: Redactor,
    window: RestartWindow,
    backoff: Backoff,
}

impl Supervisor {
    #[expect(
        clippy::too_many_arguments,
        reason = "one-off constructor of the task's state"
    )]
    pub(super) fn new(
        id: Arc<str>,
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
            redactor: spec.redactor(),
            id,
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
        let mut phase = Phase::Start;
        loop {
            phase = match phase {
                Phase::Start => match self.start().await {
                    Ok(conn) => match self.serve(conn).await {
                        Ended::Crashed(why) => self.after_crash(why),
                        Ended::Restart(ack) => {
                            self.window.reset();
                            self.bump_restarts();
                            let _ = ack.send(());
                            Phase::Start
                        }
                        Ended::Stop(ack) => return self.finish(ack),
                    },
                    Err(StartError::Stopped(ack)) => return self.finish(ack),
                    Err(StartError::Failed(why)) => self.after_crash(why),
                },
                Phase::Backoff(delay) => match self.wait(Some(delay)).await {
                    Wake::Timer => {
                        self.bump_restarts();
                        Phase::Start
                    }
                    Wake::Restart(ack) => {
                        self.window.reset();
                        self.bump_restarts();
                        let _ = ack.send(());
                        Phase::Start
                    }
                    Wake::Stop(ack) => return self.finish(ack),
                },
                Phase::Failed => match self.wait(None).await {
                    Wake::Restart(ack) => {
                        self.window.reset();
                        self.bump_restarts();
                        let _ = ack.send(());
                        Phase::Start
                    }
                    Wake::Stop(ack) => return self.finish(ack),
                    Wake::Timer => Phase::Failed,
                },
            };
        }
    }

    fn publish(&self, f: impl FnOnce(&mut ChildStatus)) {
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

    /// Disabled or missing env: nothing to run, but answer control requests.
    async fn idle_until_stopped(&mut self) {
        loop {
            match self.wait(None).await {
                Wake::Stop(ack) => {
                    // Keep the informative state rather than `stopped`.
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                    return;
                }
                Wake::Restart(ack) => {
                    let _ = ack.send(());
                }
                Wake::Timer => {}
            }
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
            () = self.shutdown.cancelled() => Wake::Stop(None),
            () = sleep => Wake::Timer,
            msg = self.control.recv() => match msg {
                Some(Control::Restart(ack)) => Wake::Restart(ack),
                Some(Control::Stop(ack)) => Wake::Stop(Some(ack)),
                None => Wake::Stop(None),
            },
        }
    }

    fn after_crash(&mut self, why: String) -> Phase {
        let tail = self.tail.last_lines(STDERR_LINES_IN_ERROR);
        let mut message = self.redactor.redact(&why);
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
            tracing::error!(server = %self.id, error = %message, "child crashed more than {max} times in {window} s; giving up until the config changes or a restart is requested");
            self.publish(|s| {
                s.disconnected(ServerState::Failed);
                s.last_error = Some(format!(
                    "gave up after more than {max} crashes in {window} s: {message}"
                ));
            });
            Phase::Failed
        }
    }

    /// Spawns the process and connects to it, under the start-up timeout.
    async fn launch(
        &mut self,
        handler: ChildClient,
    ) -> Result<(Running, Lists, Spawned), StartError> {
        let launched = process::spawn(&self.spec).map_err(|e| {
            StartError::Failed(format!("cannot launch `{}`: {e}", self.spec.command))
        })?;
        let mut child = launched.child;
        let pgid = launched.pgid;
        tracing::info!(server = %self.id, pid = pgid, "child spawned");
        self.status.send_modify(|s| s.pid = Some(pgid));

        let stderr_task = match child.stderr.take() {
            Some(err) => self.tracker.spawn(stderr::forward(
                self.id.clone(),
                err,
                self.tail.clone(),
                self.redactor.clone(),
            )),
            None => self.tracker.spawn(async {}),
        };
        let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
            let mut spawned = Spawned {
                child,
                pgid,
                stderr_task,
            };
            self.kill(&mut spawned).await;
            return Err(StartError::Failed("child has no stdio pipes".into()));
        };
        let mut spawned = Spawned {
            child,
            pgid,
            stderr_task,
        };

        let transport = ChildTransport::new(
            self.id.clone(),
            stdout,
            stdin,
            self.settings.max_message_bytes,
        );
        let limit = self.settings.startup_timeout;
        let connect = async {
            let running = handler.serve(transport).await.map_err(|e| e.to_string())?;
            let lists = list_everything(&running, limit).await?;
            Ok::<_, String>((running, lists))
        };

        let outcome = tokio::select! {
            r = tokio::time::timeout(limit, connect) => match r {
                Ok(Ok(ok)) => Ok(ok),
                Ok(Err(e)) => Err(format!("MCP handshake failed: {e}")),
                Err(_) => Err(format!("did not finish `initialize` and listing within {} s", limit.as_secs_f64())),
            },
            status = spawned.child.wait() => Err(exit_message(status.ok(), "during start-up")),
            () = self.shutdown.cancelled() => {
                self.kill(&mut spawned).await;
                return Err(StartError::Stopped(None));
            }
        };
        let (running, lists) = match outcome {
            Ok(ok) => ok,
            Err(why) => {
                // A child that died makes the handshake fail first; its exit code says more.
                let exited = tokio::time::timeout(Duration::from_millis(200), spawned.child.wait())
                    .await
                    .ok()
                    .and_then(Result::ok);
                self.kill(&mut spawned).await;
                return Err(StartError::Failed(match exited {
                    Some(status) => exit_message(Some(status), "during start-up"),
                    None => why,
                }));
            }
        };
        Ok((running, lists, spawned))
    }

    /// Connects to a remote server over streamable HTTP, under the start-up timeout.
    async fn connect_remote(
        &mut self,
        handler: ChildClient,
        remote: &crate::config::Remote,
    ) -> Result<(Running, Lists), StartError> {
        let transport = super::remote::transport(remote).map_err(StartError::Failed)?;
        let limit = self.settings.startup_timeout;
        let connect = async {
            let running = handler.serve(transport).await.map_err(|e| e.to_string())?;
            let lists = list_everything(&running, limit).await?;
            Ok::<_, String>((running, lists))
        };
        tokio::select! {
            r = tokio::time::timeout(limit, connect) => match r {
                Ok(Ok(ok)) => Ok(ok),
                Ok(Err(e)) => Err(StartError::Failed(format!("cannot connect to {}: {e}", self.redactor.redact(&remote.url)))),
                Err(_) => Err(StartError::Failed(format!("{} did not finish `initialize` and listing within {} s", self.redactor.redact(&remote.url), limit.as_secs_f64()))),
            },
            () = self.shutdown.cancelled() => Err(StartError::Stopped(None)),
        }
    }

    /// Starts the child (or connects to the remote server) and its health loop.
    async fn start(&mut self) -> Result<Conn, StartError> {
        self.tail.clear();
        self.publish(|s| s.disconnected(ServerState::Starting));
        let (events_tx, events) = mpsc::unbounded_channel();
        let handler = ChildClient::new(self.id.clone(), self.hub.clone(), events_tx);
        let (running, lists, process) = match self.spec.remote.clone() {
            Some(remote) => {
                let (running, lists) = self.connect_remote(handler, &remote).await?;
                (running, lists, None)
            }
            None => {
                let (running, lists, spawned) = self.launch(handler).await?;
                (running, lists, Some(spawned))
            }
        };

        let peer = running.peer().clone();
        let info = running.peer_info();
        let health_stop = self.shutdown.child_token();
        let (health_tx, health) = mpsc::channel(4);
        self.tracker.spawn(health::ping_loop(
            peer.clone(),
            self.settings.health_check_interval,
            self.settings.health_check_timeout,
            health_tx,
            health_stop.clone(),
        ));
        tracing::info!(
            server = %self.id,
            tools = lists.tools.len(),
            protocol = ?info.as_ref().map(|i| i.protocol_version.to_string()),
            "child running"
        );
        self.publish(|s| {
            s.state = ServerState::Running;
            s.running_since = Some(Instant::now());
            s.generation += 1;
            s.protocol_version = info.as_ref().map(|i| i.protocol_version.to_string());
            s.server_info = info
                .as_ref()
                .and_then(|i| i.server_info.as_ref())
                .map(|i| format!("{} {}", i.name, i.version));
            s.capabilities = info.as_ref().map(|i| i.capabilities.clone());
            lists.apply(s);
            s.peer = Some(peer);
        });
        Ok(Conn {
            running,
            process,
            events,
            health,
            health_stop,
        })
    }

    /// Runs a live connection until it ends.
    async fn serve(&mut self, mut conn: Conn) -> Ended {
        let mut misses = 0u32;
        // A remote server has no process to wait on; its transport says when it is gone.
        let mut closed_check = tokio::time::interval(Duration::from_millis(500));
        let ended = loop {
            tokio::select! {
                () = self.shutdown.cancelled() => break Ended::Stop(None),
                msg = self.control.recv() => match msg {
                    Some(Control::Restart(ack)) => break Ended::Restart(ack),
                    Some(Control::Stop(ack)) => break Ended::Stop(Some(ack)),
                    None => break Ended::Stop(None),
                },
                status = wait_process(&mut conn.process) => {
                    break Ended::Crashed(exit_message(status, "unexpectedly"));
                }
                _ = closed_check.tick(), if conn.process.is_none() => {
                    if conn.running.is_transport_closed() {
                        break Ended::Crashed("the connection to the remote server closed".into());
                    }
                }
                Some(ok) = conn.health.recv() => {
                    if ok {
                        if misses > 0 {
                            tracing::info!(server = %self.id, "child answers pings again");
                            self.publish(|s| s.state = ServerState::Running);
                        }
                        misses = 0;
                    } else {
                        misses += 1;
                        let limit = self.settings.health_check_failures;
                        tracing::warn!(server = %self.id, misses, limit, "child missed a health ping");
                        if conn.running.is_transport_closed() || misses >= limit {
                            break Ended::Crashed(format!(
                                "did not answer {misses} health pings in a row (each allowed {} s); restarted as hung",
                                self.settings.health_check_timeout.as_secs_f64()
                            ));
                        }
                        self.publish(|s| s.state = ServerState::Unhealthy);
                    }
                }
                Some(ChildEvent::ListsChanged) = conn.events.recv() => {
                    // Coalesce a burst of list_changed into one re-listing.
                    while conn.events.try_recv().is_ok() {}
                    match list_everything(&conn.running, self.settings.startup_timeout).await {
                        Ok(lists) => self.publish(|s| lists.apply(s)),
                        Err(e) => tracing::warn!(server = %self.id, error = %e, "re-listing after list_changed failed"),
                    }
                }
            }
        };
        // Nothing may be routed to a connection that is going away. A crash reads as
        // `restarting` at once (after_crash may then make it `failed`), so callers wait for the
        // new process instead of seeing a running server with no connection.
        self.publish(|s| {
            s.peer = None;
            s.state = match ended {
                Ended::Crashed(_) | Ended::Restart(_) => ServerState::Restarting,
                Ended::Stop(_) => ServerState::Stopped,
            };
        });
        self.close(conn).await;
        ended
    }

    /// Closes the connection (which closes the child's stdin) and stops the process group.
    async fn close(&self, conn: Conn) {
        let Conn {
            mut running,
            process,
            health_stop,
            ..
        } = conn;
        health_stop.cancel();
        // Closing drops the transport, closing the child's stdin: the polite way to stop it.
        // In-flight requests fail with "transport closed" at this point, never hang.
        let _ = running
            .close_with_timeout(self.settings.shutdown_grace)
            .await;
        drop(running);
        if let Some(mut spawned) = process {
            self.kill(&mut spawned).await;
        }
    }

    async fn kill(&self, p: &mut Spawned) {
        let status = process::terminate(&mut p.child, p.pgid, self.settings.shutdown_grace).await;
        tracing::info!(server = %self.id, ?status, "child stopped");
        // The reader ends at EOF once every process holding the pipe is gone.
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut p.stderr_task).await;
    }
}

/// The connection type of every child.
type Running = RunningService<RoleClient, ChildClient>;

/// Waits for the process to exit; never, for a remote server.
async fn wait_process(p: &mut Option<Spawned>) -> Option<std::process::ExitStatus> {
    match p {
        Some(p) => p.child.wait().await.ok(),
        None => std::future::pending().await,
    }
}

enum StartError {
    Failed(String),
    Stopped(Option<oneshot::Sender<()>>),
}

enum Wake {
    Timer,
    Restart(oneshot::Sender<()>),
    Stop(Option<oneshot::Sender<()>>),
}

fn exit_message(status: Option<std::process::ExitStatus>, when: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) if s.code().is_some() => {
            format!("exited {when} with code {}", s.code().unwrap_or_default())
        }
        Some(s) => match s.signal() {
            Some(sig) => format!("killed {when} by signal {sig}"),
            None => format!("exited {when}"),
        },
        None => format!("exited {when}"),
    }
}

/// A child's lists at one moment.
struct Lists {
    tools: Vec<rmcp::model::Tool>,
    prompts: Vec<rmcp::model::Prompt>,
    resources: Vec<rmcp::model::Resource>,
    templates: Vec<rmcp::model::ResourceTemplate>,
}

impl Lists {
    fn apply(self, s: &mut ChildStatus) {
        s.tools = Arc::new(self.tools);
        s.prompts = Arc::new(self.prompts);
        s.resources = Arc::new(self.resources);
        s.resource_templates = Arc::new(self.templates);
    }
}

/// Lists tools, and prompts and resources where the child declares them.
async fn list_everything(
    running: &RunningService<RoleClient, ChildClient>,
    limit: Duration,
) -> Result<Lists, String> {
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
