#!/usr/bin/env bash
# The whole test suite, from a fresh checkout: system packages, test peers (PyPI, npm) and the
# test model (PyPI), then every workspace test with the peers required (a missing peer fails
# rather than skips).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "test: set-up (Debian packages, MCP peers from PyPI and npm, the test model), then a debug build of the whole workspace (a first build takes about 6 minutes on a 2-core machine, llama.cpp most of it), then every test and the conformance suite (both protocol revisions): about 15 minutes in all the first time." >&2
# The set-up logic itself, against a stub package manager (nothing is installed by this).
bash scripts/tests/setup-system.sh
bash scripts/setup-system.sh test
bash scripts/setup-mcp-peers.sh
bash scripts/setup-aimock.sh
bash scripts/fetch-gemma.sh >/dev/null
bash scripts/setup-conformance.sh
export MCP_REQUIRE_PEERS=1
# One throwaway PostgreSQL serves every store test of the run (each test makes its own database);
# its directory is this run's, so two runs at once do not share (or stop) one server.
export PG_TEST_DIR="/tmp/mcp-orch-pg-$$"
trap 'bash scripts/postgres.sh stop' EXIT
pg_url="$(bash scripts/postgres.sh start)"
export MCP_TEST_POSTGRES_URL="$pg_url"
cargo build --workspace --all-targets
cargo test --workspace
# The official conformance suite, through `serve --http` (prints its own pass/fail summary).
bash scripts/conformance-through-orchestrator.sh
