#!/usr/bin/env bash
# Builds and tests the container image (the Dockerfile at the repository root) with Debian's
# podman, without any image registry.
#
#   image.sh base            the base image localhost/debian-bookworm-slim, made from Debian
#                            packages with debootstrap, once per machine (a tarball is kept in
#                            the cache dir and re-imported if podman's storage was wiped), plus
#                            the certificate authorities this host added locally
#   image.sh prebuilt [DIR]  localhost/mcp-orchestrator:prebuilt from the three binaries in DIR
#                            (default: target/debug, what scripts/test.sh builds); seconds
#   image.sh full            localhost/mcp-orchestrator:latest, the multi-stage build from
#                            source; 21 min on 2 cores from a clean cache
#   image.sh test [DIR]      base and prebuilt, then runs the image with a mounted config (a
#                            fixture child and a vendor server), calls a tool through it over
#                            HTTP with the bearer token and an allowed Host from the environment,
#                            checks /health, /health/ready and the HEALTHCHECK, and stops it
#
# Environment: FIXTURE (test) the mcp-fixture-server binary to mount as the child (default:
# DIR/mcp-fixture-server); IMAGE (test) an image to test instead of building one from DIR, e.g.
# localhost/mcp-orchestrator:latest after `full`; DEBIAN_MIRROR (base); MCP_CACHE_HOME (default
# ${XDG_CACHE_HOME:-~/.cache}/mcp-orchestrator); PODMAN_RUNTIME (default runc); CONTAINERS_CONF
# (default: one this script writes, see below). Needs root (debootstrap, rootful podman).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${MCP_CACHE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-orchestrator}"
base_image=localhost/debian-bookworm-slim
minbase_image=localhost/debian-bookworm-minbase
mkdir -p "$cache"

# On these VMs runc cannot set podman's default open-files limit ("error setting rlimit type 7:
# operation not permitted"), and crun refuses to run at all, so the runtime is runc and the
# default ulimits are none, unless the caller chose otherwise.
if [ -z "${CONTAINERS_CONF:-}" ]; then
  export CONTAINERS_CONF="$cache/containers.conf"
  printf '[containers]\n# the VM refuses the default nofile/nproc limits\ndefault_ulimits = []\n' > "$CONTAINERS_CONF.tmp"
  mv "$CONTAINERS_CONF.tmp" "$CONTAINERS_CONF"
fi
podman() { command podman --runtime "${PODMAN_RUNTIME:-runc}" "$@"; }

say() { echo "image.sh: $*" >&2; }

need() {
  local missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  if [ ${#missing[@]} -gt 0 ]; then
    say "missing: ${missing[*]} (scripts/setup-system.sh test installs them)"
    exit 2
  fi
}

base() {
  need podman debootstrap
  # Two test runs at once must not both debootstrap: the second waits and then finds the image.
  exec 9>"$cache/base.lock"
  flock 9
  local tarball="$cache/debian-bookworm-minbase.tar"
  if [ ! -s "$tarball" ] && ! podman image exists "$minbase_image"; then
    local mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
    local tree
    tree="$(mktemp -d "${TMPDIR:-/tmp}/mcp-base.XXXXXX")"
    say "making the base image with debootstrap (bookworm, minbase) from $mirror; once per machine, about 2 minutes"
    debootstrap --variant=minbase bookworm "$tree" "$mirror" >"$cache/debootstrap.log" 2>&1 \
      || { say "debootstrap failed; see $cache/debootstrap.log"; rm -rf "$tree"; exit 1; }
    # What Debian's own slim images point apt at, so images built on this base get security
    # updates too; apt's downloaded lists and packages are dropped as they are there.
    cat > "$tree/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
    # The trims of Debian's -slim images: documentation, manuals and translations are left out,
    # now and of every package installed later (copyright files stay).
    cat > "$tree/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
    find "$tree/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
    rm -rf "$tree"/usr/share/man/* "$tree"/usr/share/info/* "$tree"/usr/share/locale/* \
      "$tree"/var/cache/apt/archives/*.deb "$tree"/var/lib/apt/lists/* "$tree"/tmp/*
    tar -C "$tree" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$tree"
  fi
  podman image exists "$minbase_image" \
    || podman import --quiet --change 'CMD ["/bin/bash"]' "$tarball" "$minbase_image" >/dev/null
  # The certificate authorities this host added locally go on top, as a layer rebuilt on every
  # call (a cache hit unless they changed): where the network passes through a TLS-intercepting
  # proxy, as on these VMs, the builder's downloads (rustup, crates) and the vendor servers' API
  # calls from a container need the same trust the host has. Elsewhere the directory is empty and
  # the base is Debian's packages alone. Once `ca-certificates` is installed on top (the
  # Dockerfile does), update-ca-certificates adds them to the bundle.
  local certs
  certs="$(mktemp -d "${TMPDIR:-/tmp}/mcp-base-certs.XXXXXX")"
  find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' -exec cp {} "$certs/" \; 2>/dev/null || true
  if [ -n "$(ls -A "$certs")" ]; then
    printf 'FROM %s\nCOPY *.crt /usr/local/share/ca-certificates/\n' "$minbase_image" > "$certs/Containerfile"
    podman build --force-rm --quiet -t "$base_image" "$certs" >/dev/null
  else
    podman tag "$minbase_image" "$base_image"
  fi
  rm -rf "$certs"
  # Released here, not at exit: the builds that follow (an hour for `full`) would inherit the
  # descriptor and hold the lock, blocking every other run for as long.
  exec 9>&-
  say "base image $base_image ready"
}

# prebuilt [DIR [TAG]]
prebuilt() {
  local dir="${1:-${CARGO_TARGET_DIR:-$root/target}/debug}"
  local tag="${2:-localhost/mcp-orchestrator:prebuilt}"
  for b in mcp-orchestrator mcp-vendor mcp-local-llama; do
    [ -x "$dir/$b" ] || { say "$dir/$b is missing: build it first (cargo build --workspace)"; exit 2; }
  done
  base
  local start=$SECONDS
  # The binaries come from their own build context, so the repository's context (which keeps
  # target/ out) stays small and any target dir works.
  podman build --force-rm --format docker --build-arg "BASE=$base_image" --target runtime-prebuilt \
    --build-context "prebuilt=$dir" -t "$tag" "$root" >"$cache/build-prebuilt.$$.log" 2>&1 \
    || { cat "$cache/build-prebuilt.$$.log" >&2; say "the prebuilt image build failed"; exit 1; }
  rm -f "$cache/build-prebuilt.$$.log"
  say "built $tag from $dir in $((SECONDS - start)) s"
}

full() {
  base
  local start=$SECONDS
  # Host networking: the builder downloads crates and the Rust toolchain, and a build needs no
  # network isolation; it also works where podman's bridge cannot be set up.
  # The image id file proves the build finished: podman build can exit 0 when it is stopped by
  # a signal.
  rm -f "$cache/full.iid"
  podman build --force-rm --format docker --network host --build-arg "BASE=$base_image" \
    --iidfile "$cache/full.iid" -t localhost/mcp-orchestrator:latest "$root"
  [ -s "$cache/full.iid" ] || { say "the build did not finish"; exit 1; }
  say "built localhost/mcp-orchestrator:latest in $((SECONDS - start)) s"
  podman image ls localhost/mcp-orchestrator:latest >&2
}

# One HTTP request to the container; prints the body, fails on a non-2xx answer.
mcp_post() {
  curl -sS --fail-with-body --max-time 20 "$url/mcp" -H "Host: $allowed_host" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' "$@"
}

test_image() {
  local dir="${1:-${CARGO_TARGET_DIR:-$root/target}/debug}"
  local fixture="${FIXTURE:-$dir/mcp-fixture-server}"
  [ -x "$fixture" ] || { say "$fixture is missing: cargo build -p mcp-fixture-server"; exit 2; }
  need curl
  local work name image untag=""
  name="mcp-image-test-$$"
  work="$(mktemp -d "${TMPDIR:-/tmp}/mcp-image-test.XXXXXX")"
  # The test's tag is removed afterwards with --no-prune: its parent layers (the apt and user
  # set-up on the base) stay cached, so the next run builds in seconds without the network.
  if [ -n "${IMAGE:-}" ]; then
    image="$IMAGE"
  else
    # A tag of its own: two test runs at once (two checkouts) must not run each other's binaries.
    image="localhost/mcp-orchestrator:test-$$"
    untag="$image"
  fi
  trap "command podman --runtime '${PODMAN_RUNTIME:-runc}' rm -f -t 0 '$name' >/dev/null 2>&1; [ -z '$untag' ] || command podman rmi --no-prune '$untag' >/dev/null 2>&1; rm -rf '$work'" EXIT
  [ -n "${IMAGE:-}" ] || prebuilt "$dir" "$image"
  # The mounted config: the fixture (mounted from the host, it is no part of the image) and the
  # image's own mcp-vendor, found by its bare name next to mcp-orchestrator.
  mkdir -p "$work/config/workflows"
  cat > "$work/config/mcp_servers.json" <<'EOF'
{
  "servers": {
    "fx": { "command": "/opt/test/mcp-fixture-server" },
    "open_meteo": { "command": "mcp-vendor", "args": ["open_meteo"], "tools": ["get_weather"] }
  },
  "orchestrator": { "startup_timeout": 20, "shutdown_grace": 1 }
}
EOF
  chmod -R a+rX "$work"
  # Run as deploy/kubernetes/deployment.yaml runs it: read-only root filesystem (podman puts
  # tmpfs on /tmp), no capabilities, no privilege gain, and a writable state directory owned by
  # the image's user, as the emptyDir with fsGroup 10001 is.
  mkdir -p "$work/state"
  chown 10001:10001 "$work/state"
  token="image-test-$RANDOM$RANDOM"
  allowed_host="mcp.example.test"
  # Without systemd (as on these VMs) podman cannot schedule the image's periodic health check
  # and logs an error on run and on stop; that noise goes to a file, and the check itself is run
  # below with `podman healthcheck run`.
  podman run -d --name "$name" -p 127.0.0.1::8080 \
    --read-only --cap-drop ALL --security-opt no-new-privileges -v "$work/state:/var/lib/mcp-orchestrator" \
    -v "$work/config:/etc/mcp-orchestrator:ro" -v "$fixture:/opt/test/mcp-fixture-server:ro" \
    -e MCP_ORCHESTRATOR_HTTP_TOKEN="$token" -e MCP_ORCHESTRATOR_ALLOW_HOSTS="localhost,$allowed_host" \
    "$image" >/dev/null 2>"$work/podman.log" \
    || { cat "$work/podman.log" >&2; say "FAILED: podman run"; exit 1; }
  local port
  port="$(podman port "$name" 8080 | head -n1 | sed 's/.*://')"
  url="http://127.0.0.1:$port"
  local ready="" i
  for i in $(seq 1 100); do
    if curl -sf -o /dev/null --max-time 2 "$url/health/ready"; then ready=1; break; fi
    sleep 0.2
  done
  if [ -z "$ready" ]; then
    podman logs "$name" >&2 || true
    say "FAILED: /health/ready did not answer 200 within 20 s"
    exit 1
  fi
  say "ok: /health/ready answered 200 on $url"
  local body
  body="$(curl -sS --fail --max-time 5 "$url/health")"
  say "ok: /health answered $body without a token"
  # The token and the allow-list come from the environment: no token → 401; a Host that is not
  # on the list → 403.
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/mcp" -X POST -H "Host: $allowed_host" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' --data '{}')"
  [ "$code" = 401 ] || { say "FAILED: /mcp without the token answered $code, not 401"; exit 1; }
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/mcp" -X POST -H 'Host: not-allowed.example' \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"image.sh","version":"0"}}}')"
  [ "$code" = 403 ] || { say "FAILED: /mcp with a Host not on the list answered $code, not 403"; exit 1; }
  say "ok: /mcp refuses a missing token (401) and a Host not on the list (403)"
  # An MCP session over streamable HTTP: initialize, initialized, then the calls.
  mcp_post -D "$work/headers" \
    --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"image.sh","version":"0"}}}' >/dev/null
  local session
  session="$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *//p' "$work/headers" | tr -d '\r')"
  [ -n "$session" ] || { say "FAILED: initialize gave no Mcp-Session-Id"; exit 1; }
  mcp_post -H "Mcp-Session-Id: $session" --data '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
  body="$(mcp_post -H "Mcp-Session-Id: $session" --data '{"jsonrpc":"2.0","id":2,"method":"tools/list"}')"
  for tool in fx__echo open_meteo__get_weather orchestrator_status; do
    grep -q "\"$tool\"" <<<"$body" || { say "FAILED: tools/list lacks $tool: $body"; exit 1; }
  done
  say "ok: tools/list has fx__echo, open_meteo__get_weather (the image's mcp-vendor) and orchestrator_status"
  body="$(mcp_post -H "Mcp-Session-Id: $session" \
    --data '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"fx__echo","arguments":{"message":"through the image"}}}')"
  grep -q 'echo: through the image' <<<"$body" || { say "FAILED: fx__echo answered: $body"; exit 1; }
  say "ok: tools/call fx__echo answered \"echo: through the image\""
  # The image's HEALTHCHECK, run now rather than waiting for its interval.
  podman healthcheck run "$name" >/dev/null || { say "FAILED: the HEALTHCHECK reports unhealthy"; exit 1; }
  say "ok: the image's HEALTHCHECK passes"
  # Non-root, as the Dockerfile says.
  local uid
  uid="$(podman exec "$name" id -u)"
  [ "$uid" = 10001 ] || { say "FAILED: serve runs as uid $uid, not 10001"; exit 1; }
  say "ok: serve runs as uid 10001"
  if podman exec "$name" touch /usr/local/bin/written 2>/dev/null; then
    say "FAILED: the root filesystem is writable"; exit 1
  fi
  [ -n "$(find "$work/state" -name '*.db' -print -quit)" ] \
    || { say "FAILED: no store in the state directory"; exit 1; }
  say "ok: it runs with a read-only root filesystem, its store in the state volume"
  # Every shared library the three binaries link is in the image (llama.cpp's OpenMP once was
  # not, and only the local model server, which this config does not start, would have failed).
  local unresolved
  unresolved="$(podman exec "$name" sh -c 'ldd /usr/local/bin/mcp-orchestrator /usr/local/bin/mcp-vendor /usr/local/bin/mcp-local-llama' | grep 'not found' || true)"
  [ -z "$unresolved" ] || { say "FAILED: libraries missing from the image: $unresolved"; exit 1; }
  say "ok: the shared libraries of all three binaries are in the image"
  local start=$SECONDS
  podman stop -t 30 "$name" >/dev/null 2>>"$work/podman.log"
  local exit_code
  exit_code="$(podman inspect -f '{{.State.ExitCode}}' "$name")"
  [ "$exit_code" = 0 ] || { podman logs "$name" >&2 || true; say "FAILED: serve exited $exit_code on SIGTERM"; exit 1; }
  say "ok: SIGTERM stopped it cleanly (exit 0) in $((SECONDS - start)) s"
  # The log must show no secret: the token is in the environment, never in what serve prints.
  if podman logs "$name" 2>&1 | grep -qF "$token"; then say "FAILED: the token appears in the log"; exit 1; fi
  say "all 10 checks passed"
}

case "${1:-test}" in
  base) base ;;
  prebuilt) shift; prebuilt "$@" ;;
  full) full ;;
  test) shift || true; test_image "$@" ;;
  *) echo "usage: image.sh [base|prebuilt [DIR]|full|test [DIR]]" >&2; exit 2 ;;
esac
