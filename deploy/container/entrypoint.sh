#!/bin/sh
# The image's entrypoint (behind tini). A container is configured through its environment, but
# serve takes extra allowed Host names only as repeated --allow-host flags; this turns
# MCP_ORCHESTRATOR_ALLOW_HOSTS (comma or space separated) into them for `serve` and passes
# everything else through. The bearer token needs nothing here: serve reads
# MCP_ORCHESTRATOR_HTTP_TOKEN itself.
set -eu
# The names are split on commas and blanks, never expanded as file patterns.
set -f
if [ "${1:-}" = serve ] && [ -n "${MCP_ORCHESTRATOR_ALLOW_HOSTS:-}" ]; then
  for host in $(printf '%s' "$MCP_ORCHESTRATOR_ALLOW_HOSTS" | tr ',' ' '); do
    set -- "$@" --allow-host "$host"
  done
fi
exec /usr/local/bin/mcp-orchestrator "$@"
