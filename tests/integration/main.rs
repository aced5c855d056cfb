//! Process-level and end-to-end tests: `mcp-orchestrator` driven over real stdio, with fixture
//! children that crash, hang and misbehave, and with real MCP peers.

mod common;

mod examples;
mod http;

mod aggregation;
mod cli;
mod peers;
mod protocol;
mod reload;
mod remote;
mod sdk;
mod supervision;
mod unified;
mod vendors;
