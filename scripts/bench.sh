#!/usr/bin/env bash
# The benchmark command (issue #7). Sets up what it needs (idempotent, like the other scripts):
# server-everything (npm, via setup-mcp-peers.sh) and the peer aggregator fastmcp (PyPI, pinned,
# in $MCP_CACHE_DIR/peers/fastmcp); builds mcp-orchestrator, the fixture server and the harness in
# release; then prints the machine and one Markdown table per measured item on stdout, among them
# the floor, direct and through columns (issue #19: the harness's bare line relay
# router-bench-relay in front of the same child, measured in the same alternating rounds), the
# CPU and context switches per call of the relay and the orchestrator, and for the Rust fixture a
# second orchestrator column with the child pinned `"protocol": "legacy"` (the forwarding fast
# path) beside the default `auto` (the dual-era fixture in the 2026-07-28 era, typed path).
#
#   scripts/bench.sh [--quick] [--inference] [router-bench flags...]
#   scripts/bench.sh --workflows [--pg-url URL] [--wf-runs 100,1000] [--wf-stores sqlite,postgres]
#   scripts/bench.sh --jobs [--pg-url URL] [--jobs-seconds 60] [--jobs-pool 16,64] [--jobs-stores sqlite,postgres]
#   scripts/bench.sh --fleet [--pg-url URL] [--fleet-replicas 1,2,3] [--fleet-concurrency 16,64]
#                    [--fleet-seconds 10] [--fleet-kills 3] [--fleet-lease-ttl 15]
#
# --quick        fewer calls and cold starts (a smoke run, ~1 min; not for quoting)
# --inference    also run benches/local_inference.py (mcp-local-llama vs llama-cpp-python on the
#                Gemma-3 270M GGUF, 2 threads). Builds mcp-local-llama (llama.cpp, ~6 min the first
#                time) and installs llama-cpp-python 0.3.36 from source (~8 min the first time).
# --workflows    item 7 only: durable workflow runs (5-step diamond) on SQLite and PostgreSQL at
#                100 and 1,000 concurrent runs. Without --pg-url, PostgreSQL is a throwaway server
#                from scripts/postgres.sh in its own PG_TEST_DIR (skipped when not installed).
#                Needs neither server-everything nor fastmcp.
# --jobs         item 8 only: durable jobs (a no-op tool job, `fx__echo`): submit latency at c=1,
#                submit → completed, jobs/s sustained for --jobs-seconds (60) with 64 submitters,
#                store growth per 10,000 jobs, RSS; on SQLite and PostgreSQL (as --workflows), at
#                each --jobs-pool size (`jobs.max_concurrent`, 16 and 64). With --quick: 10 s.
#                Needs neither server-everything nor fastmcp.
# --fleet        issue #18 item 5 only: stateless (2026-07-28) `fx__echo` calls as raw HTTP POSTs
#                (keep-alive, one connection per caller) through 1, 2 and 3 `serve --http` replicas
#                behind haproxy (deploy/haproxy/haproxy.cfg, our ports on its bind/server lines),
#                all on one PostgreSQL database (as --workflows), and one replica without haproxy;
#                calls/s, p50/p99 and CPU per call per process at each --fleet-concurrency for
#                --fleet-seconds (10 s after 2 s warm-up); then --fleet-kills (3) SIGKILL trials:
#                a replica killed while it drives a workflow step, under load; time until a
#                survivor takes the run over (lease expiry, --fleet-lease-ttl 15 s) and what the
#                callers saw. Needs haproxy (scripts/setup-system.sh test). ≈ 3.5 min.
# Any other flag goes to router-bench (see `router-bench --help`), e.g. `--json out.json`.
# Respects CARGO_TARGET_DIR (default: <repo>/target).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${MCP_CACHE_DIR:-$root/.cache}"
target="${CARGO_TARGET_DIR:-$root/target}"

FASTMCP_VERSION="2.14.7"
LLAMA_CPP_PYTHON_VERSION="0.3.36"

inference=0
workflows=0
jobs=0
fleet=0
bench_args=()
for a in "$@"; do
  case "$a" in
    --inference) inference=1 ;;
    --workflows) workflows=1; bench_args+=("$a") ;;
    --jobs) jobs=1; bench_args+=("$a") ;;
    --fleet) fleet=1; bench_args+=("$a") ;;
    --quick) bench_args+=(--calls 300 --calls-per-task 10 --rounds 2 --warmup 50 --startup-runs 2 --fallback-calls 200 --peer-calls 50 --peer-calls-per-task 1 --wf-seq-runs 50 --wf-warmup 5 --jobs-seconds 10 --jobs-seq 200 --jobs-sample 50 --jobs-warmup 10 --jobs-flood-seconds 3 --fleet-seconds 3 --fleet-warmup-seconds 1 --fleet-kills 1 --fleet-lease-ttl 3) ;;
    *) bench_args+=("$a") ;;
  esac
done

if [ "$workflows" = 1 ] || [ "$jobs" = 1 ] || [ "$fleet" = 1 ]; then
  phase="workflows"
  [ "$jobs" = 1 ] && phase="jobs"
  [ "$fleet" = 1 ] && phase="fleet"
  echo "bench: building (release)" >&2
  (cd "$root" && cargo build --release --quiet -p mcp-orchestrator -p mcp-fixture-server -p router-bench)
  cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  mem="$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  pg="$(command -v postgres || ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -n 1 || true)"
  echo "## MCP Orchestrator benchmark: $phase"
  echo
  echo "* machine: $cpu, $(nproc) CPUs, $mem RAM, Linux $(uname -r)"
  echo "* $(rustc --version), release profile (\`cargo build --release\`); SQLite bundled with sqlx; PostgreSQL: $([ -n "$pg" ] && "$pg" --version 2>/dev/null || echo 'not installed')"
  if [ "$fleet" = 1 ]; then
    echo "* $( (haproxy -v 2>/dev/null || /usr/sbin/haproxy -v 2>/dev/null || echo 'haproxy: not installed') | head -n 1)"
  fi
  echo "* commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)'); loadavg at start: $(cut -d' ' -f1-4 /proc/loadavg); $(date -u +%FT%TZ)"
  echo
  "$target/release/router-bench" \
    --orchestrator "$target/release/mcp-orchestrator" \
    --fixture "$target/release/mcp-fixture-server" \
    --postgres-script "$root/scripts/postgres.sh" \
    --haproxy-recipe "$root/deploy/haproxy/haproxy.cfg" \
    "${bench_args[@]}"
  echo
  echo "loadavg at the end: $(cut -d' ' -f1-4 /proc/loadavg)"
  exit 0
fi

"$root/scripts/setup-mcp-peers.sh"
everything="$cache/peers/npm/node_modules/.bin/mcp-server-everything"

fm_venv="$cache/peers/fastmcp"
if ! "$fm_venv/bin/python" -c "import fastmcp, sys; sys.exit(fastmcp.__version__ != '$FASTMCP_VERSION')" 2>/dev/null; then
  echo "bench: installing fastmcp==$FASTMCP_VERSION (the peer aggregator)" >&2
  python3 -m venv "$fm_venv"
  "$fm_venv/bin/pip" install --quiet --disable-pip-version-check "fastmcp==$FASTMCP_VERSION"
fi

echo "bench: building (release)" >&2
(cd "$root" && cargo build --release --quiet -p mcp-orchestrator -p mcp-fixture-server -p router-bench)

# The machine, next to the figures.
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
mem="$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "## MCP Orchestrator benchmark"
echo
echo "* machine: $cpu, $(nproc) CPUs, $mem RAM, Linux $(uname -r)"
echo "* $(rustc --version), release profile (\`cargo build --release\`); node $(node --version 2>/dev/null || echo '?'); fastmcp $FASTMCP_VERSION (Python $(python3 -c 'import platform; print(platform.python_version())'))"
echo "* commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)'); loadavg at start: $(cut -d' ' -f1-4 /proc/loadavg)"
echo

"$target/release/router-bench" \
  --orchestrator "$target/release/mcp-orchestrator" \
  --fixture "$target/release/mcp-fixture-server" \
  --everything "$everything" \
  --fastmcp "$fm_venv/bin/fastmcp" \
  --relay "$target/release/router-bench-relay" \
  "${bench_args[@]}"

echo
echo "loadavg at the end: $(cut -d' ' -f1-4 /proc/loadavg)"

if [ "$inference" = 1 ]; then
  echo
  echo "### 6. Local inference: mcp-local-llama vs llama-cpp-python (Gemma-3 270M Q4_K_M, 2 threads)"
  model="$("$root/scripts/fetch-gemma.sh")"
  (cd "$root" && cargo build --release --quiet -p mcp-local-llama)
  lcp="$cache/llamacpp-py"
  if ! "$lcp/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
    echo "bench: installing llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION from source (~8 min)" >&2
    python3 -m venv "$lcp"
    CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 \
      "$lcp/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check \
      "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION"
  fi
  python3 "$root/benches/local_inference.py" --model "$model" \
    --ours "$target/release/mcp-local-llama" --llama-cpp-python "$lcp/bin/python" \
    --threads 2 --runs 5
fi
