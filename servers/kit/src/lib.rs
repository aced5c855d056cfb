//! Shared support for the vendor MCP servers.
//!
//! Every vendor server is a small program: it reads its configuration from the environment
//! ([`env`]), talks to one HTTP API through [`Api`] (one pooled client, timeouts, secrets kept out
//! of every message), turns each failure into a tool error a person can act on ([`VendorError`]),
//! and exposes typed tools through a [`ToolServer`] served on stdio ([`serve_stdio`]).
//! The argument and result types of the common tools live in [`shapes`], so every vendor of a
//! tool answers with the same structure.

pub mod env;
pub mod error;
pub mod http;
pub mod secret;
pub mod serve;
pub mod shapes;
pub mod tool;

pub use error::{ErrorKind, META_ERROR_KEY, VendorError};
pub use http::{Api, HttpSettings};
pub use secret::Secret;
pub use serve::{init_logging, init_logging_with, serve_stdio};
pub use tool::{CallError, ToolOutput, ToolServer};
