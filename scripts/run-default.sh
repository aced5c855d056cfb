#!/usr/bin/env bash
# The main job on the default config: build the orchestrator and the vendor servers it launches,
# then show the state of every server in config/mcp_servers.json (servers whose API keys are not
# set show as missing_env; set OPENAI_API_KEY etc. to start them).
#
# It builds only what this job runs, in the same (debug) profile as scripts/test.sh, so running
# both compiles the shared dependencies once. The local model server (llama.cpp, the longest
# build) is not built here: without MODEL_PATH it shows missing_env, and with MODEL_PATH set but
# not built it shows not_installed with the one command that builds it.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
if [ ! -x "$target/debug/mcp-orchestrator" ]; then
  echo "run-default: first build of mcp-orchestrator and mcp-vendor (debug profile); about 2 minutes on a 2-core machine, seconds after that. Then the status of every server." >&2
fi
bash scripts/setup-system.sh build
cargo build --bins -p mcp-orchestrator -p mcp-vendors
exec "$target/debug/mcp-orchestrator" --config config/mcp_servers.json status "$@"
