#!/usr/bin/env bash
# Tests of scripts/setup-system.sh that do not depend on what this machine has installed: dpkg,
# apt-get, sudo, id and the tool commands are stubs on PATH, and each case says which packages
# the stub package manager reports as installed.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
script="$root/scripts/setup-system.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/setup-system-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

# Stubs. $STUB_DIR/installed lists installed packages, one a line; apt-get logs its arguments
# and, when $STUB_APT_WORKS=1, adds what it was asked to install to that list.
bin="$work/bin"
mkdir -p "$bin"
cat > "$bin/dpkg" <<'SH'
#!/bin/sh
[ "$1" = "-s" ] || exit 2
if grep -qx "$2" "$STUB_DIR/installed"; then
  printf 'Package: %s\nStatus: install ok installed\n' "$2"
  # A long description, written after a pause as dpkg writes past its first buffer.
  if [ "${STUB_LONG:-0}" = 1 ]; then sleep 0.2; seq 1 2000 | sed 's/^/ description /'; fi
else
  echo "dpkg-query: package '$2' is not installed and no information is available" >&2
  exit 1
fi
SH
cat > "$bin/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >> "$STUB_DIR/log"
if [ "$1" = install ] && [ "${STUB_APT_WORKS:-1}" = 1 ]; then
  for a in "$@"; do case "$a" in -*|install) ;; *) echo "$a" >> "$STUB_DIR/installed" ;; esac; done
fi
exit 0
SH
cat > "$bin/sudo" <<'SH'
#!/bin/sh
echo "sudo $*" >> "$STUB_DIR/log"
[ "${STUB_SUDO:-0}" = 1 ] || exit 1
[ "$1" = "-n" ] && exit 0
exec "$@"
SH
cat > "$bin/id" <<'SH'
#!/bin/sh
echo "${STUB_UID:-0}"
SH
# The tool commands are there (NodeSource's node, pyenv's python), so only Debian packages count.
for tool in python3 pip3 node npm; do printf '#!/bin/sh\nexit 0\n' > "$bin/$tool"; done
chmod +x "$bin"/*

# run NAME PROFILE INSTALLED... -- runs the script with the stubs; sets $out, $rc, $log.
run() {
  local dir="$work/case-$1"; shift
  local profile="$1"; shift
  mkdir -p "$dir"
  : > "$dir/log"
  printf '%s\n' "$@" > "$dir/installed"
  # grep, sed and the shell itself come from the system; everything the script asks about is stubbed.
  out=$(STUB_DIR="$dir" PATH="$bin:/usr/bin:/bin" bash "$script" "$profile" 2>&1)
  rc=$?
  log=$(cat "$dir/log")
  installed=$(cat "$dir/installed")
}
check() {
  if eval "$2"; then passed=$((passed + 1)); echo "ok: $1"
  else failed=$((failed + 1)); echo "FAILED: $1"; echo "  rc=$rc"; echo "  output: $out"; echo "  log: $log"
  fi
}

# The case that broke every new user: libclang-cpp14 (whose files a glob for libclang*.so
# matched) is installed, libclang-dev is not.
run neighbour test build-essential cmake libclang-cpp14 libclang1-14 postgresql prometheus tmux chromium podman runc debootstrap curl haproxy dnsmasq-base
check "libclang-dev is installed when only libclang-cpp is present" \
  '[ $rc = 0 ] && grep -q "apt-get install -y -qq libclang-dev$" <<<"$log"'
check "nothing present is reinstalled" '! grep -q "cmake\|build-essential" <<<"$log"'

run all-present test build-essential cmake libclang-dev postgresql prometheus tmux chromium podman runc debootstrap curl haproxy dnsmasq-base
check "nothing is installed when everything is present" '[ $rc = 0 ] && [ -z "$log" ]'

run build-profile build build-essential
check "the build profile does not ask for llama.cpp's libclang or cmake" '[ $rc = 0 ] && [ -z "$log" ]'

run build-missing build
check "the build profile installs a C compiler when missing" \
  '[ $rc = 0 ] && grep -q "install -y -qq build-essential$" <<<"$log"'

STUB_UID=1000 run no-root test build-essential
check "without root or sudo: exit 2 with the exact apt-get line" \
  '[ $rc = 2 ] && grep -q "apt-get install -y cmake libclang-dev postgresql prometheus tmux chromium podman runc debootstrap curl haproxy dnsmasq-base$" <<<"$out" && ! grep -q "^apt-get" <<<"$log"'

STUB_UID=1000 STUB_SUDO=1 run sudo test build-essential cmake postgresql prometheus tmux chromium podman runc debootstrap curl haproxy dnsmasq-base
check "without root, through sudo when it works without a password" \
  '[ $rc = 0 ] && grep -q "^sudo apt-get install -y -qq libclang-dev$" <<<"$log"'

STUB_APT_WORKS=0 run apt-fails test build-essential cmake postgresql prometheus tmux chromium podman runc debootstrap curl haproxy dnsmasq-base
check "a package still missing after apt-get is an error (exit 2)" \
  '[ $rc = 2 ] && grep -q "libclang-dev is still not installed" <<<"$out"'

SETUP_SYSTEM_DRY_RUN=1 run dry test cmake
check "dry run prints the decision and installs nothing (the test profile includes PostgreSQL, Prometheus, tmux, Chromium, the image test's tools and HAProxy)" \
  '[ $rc = 0 ] && grep -q "would run: apt-get install -y build-essential libclang-dev postgresql prometheus tmux chromium podman runc debootstrap curl haproxy dnsmasq-base$" <<<"$out" && [ -z "$log" ]'

# dpkg's answer for podman is longer than one buffer: the package is still seen as installed.
STUB_LONG=1 run long-answer test build-essential cmake libclang-dev postgresql prometheus tmux chromium podman runc debootstrap curl haproxy dnsmasq-base
check "a long dpkg answer (podman's) still counts as installed" '[ $rc = 0 ] && [ -z "$log" ]'

# The image test's tools: podman with crun already there still gets runc, which it needs here.
run podman-without-runc test build-essential cmake libclang-dev postgresql prometheus tmux chromium podman crun debootstrap curl haproxy dnsmasq-base
check "runc is installed beside a podman that came with crun" \
  '[ $rc = 0 ] && grep -q "apt-get install -y -qq runc$" <<<"$log"'

# The fleet tests' load balancer: vim-haproxy (whose syntax files a glob for *haproxy* would
# match) is installed, haproxy is not; the build profile never asks for it.
run haproxy-neighbour test build-essential cmake libclang-dev postgresql prometheus tmux chromium podman runc debootstrap curl vim-haproxy dnsmasq-base
check "haproxy is installed when only vim-haproxy is present" \
  '[ $rc = 0 ] && grep -q "apt-get install -y -qq haproxy$" <<<"$log" && grep -qx haproxy <<<"$installed"'
run build-no-haproxy build build-essential
check "the build profile does not install haproxy" '[ $rc = 0 ] && ! grep -q haproxy <<<"$log"'

# The discovery tests' DNS server: dnsmasq-base (the executable, no system service) is asked for
# by name; the `dnsmasq` package (which would start a service on port 53) does not count.
run dnsmasq-service-only test build-essential cmake libclang-dev postgresql prometheus tmux chromium podman runc debootstrap curl haproxy dnsmasq
check "dnsmasq-base is installed even when the dnsmasq service package is present" \
  '[ $rc = 0 ] && grep -q "apt-get install -y -qq dnsmasq-base$" <<<"$log"'
run build-no-dnsmasq build build-essential
check "the build profile does not install dnsmasq" '[ $rc = 0 ] && ! grep -q dnsmasq <<<"$log"'

echo "setup-system: $passed passed, $failed failed"
[ "$failed" = 0 ]
