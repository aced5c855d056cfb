//! The doors a host or the CLI comes in through, besides stdio (which `serve` wires itself):
//! [`control`], the Unix control socket of a running instance, and [`http`], MCP streamable
//! HTTP with its host and token checks.

pub mod control;
pub mod http;
pub mod otlp;
pub mod prometheus;
pub mod rest;
