#!/usr/bin/env bash
# Runs the official MCP conformance suite against `mcp-orchestrator serve --http`, with the
# suite's scenario server (tests/conformance-server) behind it as an un-namespaced stdio child, so
# everything the suite checks (progress, logging, sampling, elicitation, subscriptions, input
# requests, listen streams, completion, errors, DNS-rebinding protection) must pass through the
# orchestrator. Two runs: `--requirements 2025-11-25` with the child in its legacy-only mode
# (`--legacy`: a handshake-era host and child), and `--requirements 2026-07-28` with the child in
# its default dual-era mode, which the orchestrator speaks 2026-07-28 to.
# Expects `cargo build --workspace` to have run; uses target/debug unless $MCP_TARGET_DIR says.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${MCP_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}/debug}"

# run REVISION CHILD_ARGS_JSON: one orchestrator with the child started with those args.
run() {
  local revision="$1" child_args="$2"
  local work port pid status=0
  work="$(mktemp -d "${TMPDIR:-/tmp}/mcp-conformance-orch.XXXXXX")"
  cat > "$work/mcp_servers.json" <<JSON
{"mcpServers": {"conformance": {"command": "$bin/mcp-conformance-server", "args": $child_args, "namespace": false}},
 "orchestrator": {"shutdown_grace": 1}}
JSON
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  XDG_RUNTIME_DIR="$work" "$bin/mcp-orchestrator" --config "$work/mcp_servers.json" serve --no-watch \
    --http "127.0.0.1:$port" 2> "$work/orchestrator.log" &
  pid=$!
  for _ in $(seq 1 100); do
    if python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)))"; then break; fi
    sleep 0.1
  done
  CONFORMANCE_REQUIREMENTS="$revision" \
  CONFORMANCE_EXPECTED_FAILURES="$root/tests/conformance/expected-failures-orchestrator.yml" \
    "$root/scripts/run-conformance.sh" "http://127.0.0.1:$port/mcp" "${extra[@]}" || status=1
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  if [ "$status" != 0 ]; then
    echo "conformance ($revision) through the orchestrator failed; orchestrator log: $work/orchestrator.log" >&2
    return 1
  fi
  rm -rf "$work"
}

extra=("$@")
status=0
run 2025-11-25 '["--legacy"]' || status=1
run 2026-07-28 '[]' || status=1
exit "$status"
