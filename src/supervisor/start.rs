//! Starting a connection: spawn the child (or reach the remote server), `initialize`, list
//! everything, and publish `running`, all within `startup_timeout`.

use std::{sync::Arc, time::Duration};

use rmcp::{
    RoleClient,
    model::ProtocolVersion,
    service::{ClientLifecycleMode, ClientServiceExt as _},
    transport::IntoTransport,
};
use tokio::{sync::mpsc, time::Instant};

use super::{
    Running,
    child_client::ChildClient,
    child_io::ChildTransport,
    conn::{Conn, Spawned},
    failure::Failure,
    health,
    lane::Lane,
    lists::{self, Lists, list_everything},
    process,
    run::{Ended, Interrupt, Supervisor},
    state::ServerState,
    stderr,
};
use crate::{
    config::{Launch, ProtocolChoice, Remote, Transport},
    era::Era,
    reaper,
};

impl Supervisor {
    /// Starts the child (or connects to the remote server) and its health loop. A failure is
    /// `Ended::Crashed`; shutdown while starting is `Ended::Interrupted`.
    pub(super) async fn start(&mut self) -> Result<Conn, Ended> {
        self.tail.clear();
        self.publish(|s| s.disconnected(ServerState::Starting));
        let (events_tx, events) = mpsc::unbounded_channel();
        let handler = ChildClient::new(self.id.clone(), self.hub.clone(), events_tx.clone());
        let spec = self.spec.clone();
        let (running, lists, process, lane) = match &spec.transport {
            Transport::Http(remote) => {
                let (running, lists) = self.connect_remote(handler, remote).await?;
                (running, lists, None, None)
            }
            Transport::Stdio(launch) => {
                let (running, lists, spawned, lane) = self.launch(handler, launch).await?;
                (running, lists, Some(spawned), Some(lane))
            }
        };

        let peer = running.peer().clone();
        let info = running.peer_info();
        let health_stop = self.shutdown.child_token();
        let (health_tx, health) = mpsc::channel(4);
        let era = info
            .as_ref()
            .map_or(Era::Legacy, |i| Era::of(&i.protocol_version));
        self.tracker.spawn(health::ping_loop(
            peer.clone(),
            era,
            self.settings.health_check_interval,
            self.settings.health_check_timeout,
            health_tx,
            health_stop.clone(),
        ));
        if let Some(lane) = &lane {
            self.tracker.spawn(lane.clone().sweep(health_stop.clone()));
        }
        if era == Era::Modern {
            self.tracker.spawn(lists::listen(
                self.id.clone(),
                peer.clone(),
                events_tx,
                health_stop.clone(),
            ));
        }
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
            s.era = Some(era);
            s.lane = lane.clone();
        });
        Ok(Conn {
            running,
            lane,
            process,
            events,
            health,
            health_stop,
        })
    }

    /// Spawns the process and connects to it, under the start-up timeout.
    async fn launch(
        &mut self,
        handler: ChildClient,
        launch: &Launch,
    ) -> Result<(Running, Lists, Spawned, Arc<Lane>), Ended> {
        let launched = process::spawn(&self.spec, launch).map_err(|source| {
            Ended::Crashed(Failure::Launch {
                command: launch.command.clone(),
                source,
            })
        })?;
        let mut child = launched.child;
        let pgid = launched.pgid;
        // The companion process kills the group if we are killed before we stop it ourselves.
        reaper::register(pgid);
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
        let pipes = (child.stdout.take(), child.stdin.take());
        let mut spawned = Spawned {
            child,
            pgid,
            stderr_task,
        };
        let (Some(stdout), Some(stdin)) = pipes else {
            self.kill(&mut spawned).await;
            return Err(Ended::Crashed(Failure::NoPipes));
        };

        let transport = ChildTransport::new(
            self.id.clone(),
            stdout,
            stdin,
            self.settings.max_message_bytes,
            self.hub.clone(),
        );
        let lane = transport.lane().clone();
        let limit = self.settings.startup_timeout;
        let spec_protocol = self.spec.protocol;
        let outcome = tokio::select! {
            r = tokio::time::timeout(limit, handshake(handler, transport, limit, spec_protocol)) => match r {
                Ok(Ok(ok)) => Ok(ok),
                Ok(Err(e)) => Err(Failure::Handshake(e)),
                Err(_) => Err(Failure::StartTimeout(limit)),
            },
            status = spawned.child.wait() => Err(Failure::Exited { status: status.ok(), when: "during start-up" }),
            () = self.shutdown.cancelled() => {
                self.kill(&mut spawned).await;
                return Err(Ended::Interrupted(Interrupt::Stop(None)));
            }
        };
        match outcome {
            Ok((running, lists)) => Ok((running, lists, spawned, lane)),
            Err(why) => {
                // A child that died makes the handshake fail first; its exit code says more.
                let exited = tokio::time::timeout(Duration::from_millis(200), spawned.child.wait())
                    .await
                    .ok()
                    .and_then(Result::ok);
                self.kill(&mut spawned).await;
                Err(Ended::Crashed(match exited {
                    Some(status) => Failure::Exited {
                        status: Some(status),
                        when: "during start-up",
                    },
                    None => why,
                }))
            }
        }
    }

    /// Connects to a remote server over streamable HTTP, under the start-up timeout.
    async fn connect_remote(
        &mut self,
        handler: ChildClient,
        remote: &Remote,
    ) -> Result<(Running, Lists), Ended> {
        let transport =
            super::remote::transport(remote).map_err(|e| Ended::Crashed(Failure::BadHeader(e)))?;
        let limit = self.settings.startup_timeout;
        let spec_protocol = self.spec.protocol;
        let url = self.redactor.redact(&remote.url);
        tokio::select! {
            r = tokio::time::timeout(limit, handshake(handler, transport, limit, spec_protocol)) => match r {
                Ok(Ok(ok)) => Ok(ok),
                Ok(Err(message)) => Err(Ended::Crashed(Failure::Connect { url, message })),
                Err(_) => Err(Ended::Crashed(Failure::ConnectTimeout { url, limit })),
            },
            () = self.shutdown.cancelled() => Err(Ended::Interrupted(Interrupt::Stop(None))),
        }
    }
}

/// The handshake the config asks for, over `transport`, then the first listing: the start-up of
/// any child.
async fn handshake<T, E, A>(
    handler: ChildClient,
    transport: T,
    limit: Duration,
    protocol: ProtocolChoice,
) -> Result<(Running, Lists), String>
where
    T: IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let running = handler
        .serve_with_lifecycle(transport, lifecycle(protocol))
        .await
        .map_err(|e| e.to_string())?;
    let lists = list_everything(&running, limit).await?;
    Ok((running, lists))
}

/// What the config's `protocol` means as an rmcp lifecycle. `auto` probes with
/// `server/discover` and falls back to `initialize` when the child answers the probe with an
/// error, as a handshake-era server does.
fn lifecycle(protocol: ProtocolChoice) -> ClientLifecycleMode {
    let modern = vec![ProtocolVersion::V_2026_07_28];
    match protocol {
        ProtocolChoice::Auto => ClientLifecycleMode::Auto {
            preferred_versions: modern,
            legacy_version: Some(ProtocolVersion::V_2025_11_25),
        },
        ProtocolChoice::Legacy => ClientLifecycleMode::Initialize,
        ProtocolChoice::Modern => ClientLifecycleMode::Discover {
            preferred_versions: modern,
        },
    }
}
