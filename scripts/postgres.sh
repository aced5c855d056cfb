#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the store's tests: a real server, never a mock.
#
#   postgres.sh start   starts one (unless it runs already) and prints its URL on stdout
#   postgres.sh url     prints the URL of the running one
#   postgres.sh stop    stops it and removes its directory
#
# State (data, sockets, log, URL) lives in ${PG_TEST_DIR:-/tmp/mcp-orch-pg}. The server listens
# on 127.0.0.1 on a free port with trust authentication (nothing but this machine reaches it) and
# fsync off: it holds test data only. Debian's `postgresql` package provides it
# (`scripts/setup-system.sh test` installs it). PostgreSQL refuses to run as root: as root the
# cluster runs as the `postgres` user.
set -euo pipefail

dir="${PG_TEST_DIR:-/tmp/mcp-orch-pg}"
data="$dir/data"

# The server's binaries: pg_config's when it has them, else Debian's newest version.
bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d="$(pg_config --bindir 2>/dev/null || true)"
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return; fi
  fi
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  echo "postgres.sh: PostgreSQL is not installed (no initdb); run scripts/setup-system.sh test" >&2
  exit 2
}

# Runs a PostgreSQL binary as the user that owns the cluster.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() { [ -f "$data/PG_VERSION" ] && as_owner "$(bindir)/pg_ctl" -D "$data" status >/dev/null 2>&1; }

# A port nothing listens on (the server's own bind is the final word: start retries on a clash).
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  echo "postgres.sh: no free port found" >&2
  exit 1
}

start() {
  if running; then cat "$dir/url"; return; fi
  local bin
  bin="$(bindir)"
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
      echo "postgres.sh: the postgres user cannot write $dir; set PG_TEST_DIR to a directory it can reach (under /tmp)" >&2
      exit 1
    fi
  fi
  as_owner "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
    || { echo "postgres.sh: initdb failed:" >&2; cat "$dir/initdb.log" >&2; exit 1; }
  local port
  for _ in 1 2 3 4 5; do
    port="$(free_port)"
    # Many tests run at once, each with its own pool: more connections than the default 100.
    if as_owner "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 30 -o \
      "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
      start >/dev/null; then
      echo "postgres://postgres@127.0.0.1:$port/postgres" > "$dir/url"
      cat "$dir/url"
      return
    fi
  done
  echo "postgres.sh: the server did not start; its log:" >&2
  cat "$dir/server.log" >&2 || true
  exit 1
}

stop() {
  if [ -f "$data/PG_VERSION" ]; then
    as_owner "$(bindir)/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url)
    if running; then cat "$dir/url"; else echo "postgres.sh: no cluster runs in $dir" >&2; exit 1; fi
    ;;
  *) echo "usage: postgres.sh start|stop|url" >&2; exit 2 ;;
esac
