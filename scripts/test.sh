#!/usr/bin/env bash
# The whole test suite, from a fresh checkout: system packages, test peers (PyPI, npm) and the
# test model (PyPI), then every workspace test with the peers required (a missing peer fails
# rather than skips).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
bash scripts/setup-mcp-peers.sh
for extra in scripts/setup-aimock.sh scripts/fetch-gemma.sh; do
  [ -f "$extra" ] && bash "$extra"
done
export MCP_REQUIRE_PEERS=1
cargo build --workspace --all-targets
cargo test --workspace
