//! Process-level and end-to-end tests: `mcp-orchestrator` driven over real stdio, with fixture
//! children that crash, hang and misbehave, and with real MCP peers.
#![expect(
    clippy::disallowed_methods,
    reason = "test drivers run their own tasks; the shutdown-tree rule is for the orchestrator"
)]

mod common;
mod raw;

mod examples;
mod fast_path;
mod faults;
mod first_use;
mod http;
mod jobs;
mod metrics;

mod aggregation;
mod bad_input;
mod chaos;
mod cli;
mod deploy;
mod discovery;
mod drain;
mod eras;
mod fleet;
mod kubernetes;
mod peers;
mod pinning;
mod protocol;
mod reload;
mod remote;
mod sdk;
mod security;
mod skills;
mod snapshots;
mod supervision;
mod telemetry;
mod unified;
mod vendors;
mod workflows;
