//! MCP Orchestrator: one stdio MCP server in front of many child MCP servers.
pub mod cli;
pub mod config;
pub mod control;
pub mod error;
pub mod hub;
pub mod metrics;
pub mod naming;
pub mod orchestrator;
pub mod own_tools;
pub mod reload;
pub mod secrets;
pub mod server;
pub mod shutdown;
pub mod status;
pub mod supervisor;
pub mod surface;
pub mod telemetry;
