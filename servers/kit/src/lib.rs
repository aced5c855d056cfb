//! Shared support for the vendor MCP servers.
//!
//! Every vendor server is a small program: it reads its configuration from the environment
//! ([`env`](mod@env)), talks to one HTTP API through [`Api`] (one pooled client, timeouts, secrets
//! kept out of every message), turns each failure into a tool error a person can act on
//! ([`VendorError`]), and exposes typed tools through a [`ToolServer`] served on stdio
//! ([`serve_stdio`]).
//! The argument and result types of the common tools are [`shapes`] (the `mcp-tool-shapes`
//! crate, which the orchestrator's schemas and client share), so every vendor of a tool answers
//! with the same structure, and each result's [`ToolOutput`] text reads the same whoever answered.

pub mod env;
pub mod error;
pub mod http;
pub mod secret;
pub mod serve;
mod summary;
pub mod tool;

/// The arguments, results and limits of the common tools, shared with the orchestrator.
pub use mcp_tool_shapes as shapes;

pub use error::{ErrorKind, META_ERROR_KEY, VendorError};
pub use http::{Api, HttpSettings};
pub use secret::Secret;
pub use serve::{init_logging, init_logging_with, serve_stdio};
pub use tool::{CallError, ToolOutput, ToolServer};
