//! MCP Orchestrator: one stdio MCP server in front of many child MCP servers.
//!
//! The crate is the orchestrator (feature `server`, on by default) and a Rust client SDK for it
//! (feature `client`, see [`client`]). An SDK user can build with
//! `default-features = false, features = ["client"]` and compile none of the orchestrator.
//!
//! Where things are:
//! - [`cli`]: the `mcp-orchestrator` commands, one module each;
//! - [`config`]: `mcp_servers.json`: raw serde types, validation, `${VAR}` expansion, the watch;
//! - [`orchestrator`]: the running whole: children, merged surface, shutdown tree;
//! - [`supervisor`]: one task per child: states, backoff, process groups, health, stderr;
//! - [`surface`] and [`naming`]: the merged tool/prompt/resource lists and host-facing names;
//! - [`server`]: the MCP server toward the host, and request forwarding to children;
//! - [`host_io`]: the host-facing stdio framing: size caps, JSON-RPC parse errors, id checks, the
//!   direct read of `tools/call` messages;
//! - [`unified`]: `chat`, `embed`, `search_web`, `get_weather`, `list_models` across vendors;
//! - [`reload`], [`control`]: hot reload, and the control socket of a running instance;
//! - [`pins`]: tool-definition pinning (changed definitions flagged or withheld);
//! - [`metrics`], [`status`], [`own_tools`]: what the orchestrator reports about itself;
//! - [`error`]: routing errors and their one mapping to JSON-RPC;
//! - [`report`]: the report and routing types shared with the client.

#[cfg(feature = "client")]
pub mod client;
pub mod report;

#[cfg(feature = "server")]
pub mod cli;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod control;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
pub mod host_io;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
pub mod hub;
#[cfg(feature = "server")]
pub mod join;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod naming;
#[cfg(feature = "server")]
pub mod orchestrator;
#[cfg(feature = "server")]
pub mod own_tools;
#[cfg(feature = "server")]
pub mod pins;
#[cfg(feature = "server")]
pub mod reload;
#[cfg(feature = "server")]
pub mod secrets;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod shutdown;
#[cfg(feature = "server")]
pub mod status;
#[cfg(feature = "server")]
pub mod supervisor;
#[cfg(feature = "server")]
pub mod surface;
#[cfg(feature = "server")]
pub mod telemetry;
#[cfg(feature = "server")]
pub mod unified;
