#!/usr/bin/env bash
# Runs the official MCP conformance suite against `mcp-orchestrator serve --http`, with the
# suite's scenario server (tests/conformance-server) behind it as an un-namespaced stdio child, so
# everything the suite checks (progress, logging, sampling, elicitation, subscriptions, completion,
# errors, DNS-rebinding protection) must pass through the orchestrator.
# Expects `cargo build --workspace` to have run; uses target/debug unless $MCP_TARGET_DIR says.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${MCP_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}/debug}"
work="$(mktemp -d "${TMPDIR:-/tmp}/mcp-conformance-orch.XXXXXX")"
cat > "$work/mcp_servers.json" <<JSON
{"mcpServers": {"conformance": {"command": "$bin/mcp-conformance-server", "namespace": false}},
 "orchestrator": {"shutdown_grace": 1}}
JSON
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
XDG_RUNTIME_DIR="$work" "$bin/mcp-orchestrator" --config "$work/mcp_servers.json" serve --no-watch \
  --http "127.0.0.1:$port" 2> "$work/orchestrator.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)))"; then break; fi
  sleep 0.1
done
CONFORMANCE_EXPECTED_FAILURES="$root/tests/conformance/expected-failures-orchestrator.yml" \
  "$root/scripts/run-conformance.sh" "http://127.0.0.1:$port/mcp" "$@" || {
    echo "conformance through the orchestrator failed; orchestrator log: $work/orchestrator.log" >&2
    exit 1
  }
