#!/usr/bin/env bash
# Installs the real MCP peers the end-to-end tests drive, pinned, into $MCP_CACHE_DIR/peers
# (default .cache/peers): the official Python `mcp` SDK and mcp-server-time (PyPI), the
# openapi-spec-validator that checks the REST API's generated document (PyPI),
# kubernetes-validate (PyPI), which checks deploy/kubernetes offline against the Kubernetes JSON
# schemas it ships (no cluster, no schema download), and
# @modelcontextprotocol/server-everything (npm). Idempotent: a second run only checks.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${MCP_CACHE_DIR:-$root/.cache}"
peers="$cache/peers"
mkdir -p "$peers"

MCP_PY_VERSION="2.3.0"
MCP_TIME_VERSION="2026.10.19"
EVERYTHING_VERSION="2026.8.31"
OPENAPI_VALIDATOR_VERSION="0.9.0"
KUBERNETES_VALIDATE_VERSION="1.37.0"

venv="$peers/venv"
if ! "$venv/bin/python" -c "import mcp, mcp_server_time, openapi_spec_validator, kubernetes_validate" 2>/dev/null; then
  echo "setup-mcp-peers: installing mcp==$MCP_PY_VERSION, mcp-server-time==$MCP_TIME_VERSION, openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION and kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "mcp==$MCP_PY_VERSION" "mcp-server-time==$MCP_TIME_VERSION" \
    "openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION" \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi

npm_dir="$peers/npm"
if [ ! -x "$npm_dir/node_modules/.bin/mcp-server-everything" ]; then
  echo "setup-mcp-peers: installing @modelcontextprotocol/server-everything@$EVERYTHING_VERSION" >&2
  mkdir -p "$npm_dir"
  (cd "$npm_dir" && { [ -f package.json ] || npm init -y >/dev/null; } \
    && npm install --silent --no-audit --no-fund "@modelcontextprotocol/server-everything@$EVERYTHING_VERSION" >/dev/null)
fi
echo "setup-mcp-peers: ready in $peers" >&2
