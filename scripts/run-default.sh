#!/usr/bin/env bash
# The main job on the default config: build the orchestrator and the vendor servers, then show
# the state of every server in config/mcp_servers.json (servers whose API keys are not set show
# as missing_env; set OPENAI_API_KEY etc. to start them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
cargo build --release --workspace --bins
exec ./target/release/mcp-orchestrator --config config/mcp_servers.json status "$@"
