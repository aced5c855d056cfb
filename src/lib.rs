//! MCP Orchestrator: one MCP server in front of many child MCP servers.
//!
//! The crate is the orchestrator (feature `server`, on by default) and a Rust client SDK for it
//! (feature `client`, see [`client`]). An SDK user can build with
//! `default-features = false, features = ["client"]` and compile none of the orchestrator.
//!
//! The public surface is small: the [`client`] SDK, the [`report`] types it shares with the
//! orchestrator, [`config`] loading, and the binary's entry, [`cli::main`]. Everything else is
//! internal.
//!
//! # Layers
//!
//! Modules are layered, bottom to top. A module may use modules of its own layer or below, never
//! above, and no two modules may use each other in a circle; `tests/layers.rs` reads every
//! `use crate::` in `src/` and enforces both against this table (its rows are parsed).
//!
//! | layer | modules | job |
//! |---|---|---|
//! | 0 leaves | `report`, `backoff`, `secrets`, `naming`, `join`, `shutdown`, `telemetry`, `paths`, `error`, `metrics`, `pgroup`, `reaper`, `hub`, `procstat`, `otel`, `era` | shared types, the error mapping, helpers with no other dependency |
//! | 1 config | `config`, `client`, `store`, `workflow`, `artifacts` | `mcp_servers.json` raw → validated; the SDK (which sees only `report`); the durable store; workflow files raw → validated graph; the artifact registry and its content |
//! | 2 wire | `wire` | JSON-RPC framing on byte streams, the host transport |
//! | 3 supervisor | `supervisor` | one task per child: process, connection, health, restarts |
//! | 4 registry | `registry` | the children, their merged surface, pins, reload |
//! | 5 dispatch | `dispatch`, `discovery` | the `ToolCaller` seam and the child dispatcher behind it; servers found in the environment, DNS SRV records and Kubernetes, fed to the registry |
//! | 6 engine | `engine`, `jobs`, `alerts` | workflow runs over `ToolCaller` and the store: scheduling, retries, sagas, resume; jobs: durable single runs, their pool and the external service contract; alert rules over the status report |
//! | 7 tool sources | `tools` | the table of host-facing tools: own, unified, workflows, children |
//! | 8 serving | `mcp` | the MCP server a session talks to |
//! | 9 transports | `transport` | the control socket and streamable HTTP |
//! | 10 composition | `app` | builds every layer; owns the shutdown tree |
//! | 11 binary | `cli` | the commands |

#[cfg(feature = "client")]
pub mod client;
pub mod report;

#[cfg(feature = "server")]
mod alerts;
#[cfg(feature = "server")]
mod app;
#[cfg(feature = "server")]
mod artifacts;
#[cfg(feature = "server")]
mod backoff;
#[cfg(feature = "server")]
pub mod cli;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
mod discovery;
#[cfg(feature = "server")]
mod dispatch;
#[cfg(feature = "server")]
mod engine;
#[cfg(feature = "server")]
mod era;
#[cfg(feature = "server")]
mod error;
#[cfg(feature = "server")]
mod hub;
#[cfg(feature = "server")]
mod jobs;
#[cfg(feature = "server")]
mod join;
#[cfg(feature = "server")]
mod mcp;
#[cfg(feature = "server")]
mod metrics;
#[cfg(feature = "server")]
mod naming;
#[cfg(feature = "server")]
mod otel;
#[cfg(feature = "server")]
mod paths;
#[cfg(feature = "server")]
mod pgroup;
#[cfg(feature = "server")]
mod procstat;
#[cfg(feature = "server")]
mod reaper;
#[cfg(feature = "server")]
mod registry;
#[cfg(feature = "server")]
mod secrets;
#[cfg(feature = "server")]
mod shutdown;
#[cfg(feature = "server")]
mod store;
#[cfg(feature = "server")]
mod supervisor;
#[cfg(feature = "server")]
mod telemetry;
#[cfg(feature = "server")]
mod tools;
#[cfg(feature = "server")]
mod transport;
#[cfg(feature = "server")]
mod wire;
#[cfg(feature = "server")]
mod workflow;

/// What the fuzz targets drive: the pure framing and parsing functions `serve` runs on untrusted
/// bytes. Not an API.
#[cfg(feature = "server")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::{
        supervisor::child_io::oversized_id,
        wire::{frame, lines, scan, shape},
    };
}
