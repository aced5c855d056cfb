#!/usr/bin/env bash
# Installs aimock (npm @copilotkit/aimock, pinned), a real OpenAI-compatible mock server that
# runs offline, into $MCP_CACHE_DIR/peers/aimock (default: <repo>/.cache/peers/aimock).
# The openai/groq integration tests use it. Idempotent: a matching install is left alone.
set -euo pipefail

VERSION="1.43.0"
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${MCP_CACHE_DIR:-$repo/.cache}"
dest="$cache/peers/aimock"
bin="$dest/node_modules/.bin/llmock"
stamp="$dest/.installed-version"

if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$VERSION" ]]; then
    echo "aimock $VERSION already installed in $dest" >&2
    exit 0
fi

command -v npm >/dev/null || { echo "setup-aimock: npm is required (Node >= 20.15)" >&2; exit 1; }
mkdir -p "$dest"
cd "$dest"
[[ -f package.json ]] || echo '{"name":"aimock-peer","private":true}' > package.json
npm install --no-audit --no-fund --loglevel=error --save-exact "@copilotkit/aimock@$VERSION" >&2
[[ -x "$bin" ]] || { echo "setup-aimock: $bin missing after install" >&2; exit 1; }
echo "$VERSION" > "$stamp"
echo "aimock $VERSION installed in $dest" >&2
