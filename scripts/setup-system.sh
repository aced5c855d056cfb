#!/usr/bin/env bash
# Installs the Debian packages a build or the test suite needs, and only those that are missing.
#
#   setup-system.sh build   what `scripts/run-default.sh` builds: the orchestrator and the vendor
#                           servers (a C compiler for the TLS library)
#   setup-system.sh test    everything `scripts/test.sh` needs (the default): the above, plus cmake
#                           and libclang for llama.cpp (servers/local-llama), Python and Node for
#                           the real MCP peers, PostgreSQL for the store's tests (a throwaway
#                           server that `scripts/postgres.sh` starts; the package's own cluster
#                           is not used), Prometheus (`prometheus`, `promtool`) for the
#                           metrics tests (they start their own server, not the package's),
#                           tmux, in which the test of `top` runs it, Chromium, which loads
#                           the dashboard headless, and for the container image's test
#                           (scripts/image.sh): podman with the runc runtime (crun, podman's
#                           first choice, refuses to run on these VMs), debootstrap, which makes
#                           the base image from Debian packages since no image registry is
#                           reachable, and curl, its HTTP client. As root, podman needs nothing
#                           else (native overlay storage, netavark networking); the rootless
#                           helpers come along as podman's recommendations. HAProxy (Debian's
#                           `haproxy`) is the load balancer the fleet tests put in front of two
#                           replicas (tests/integration/fleet.rs runs its own instance from
#                           deploy/haproxy/haproxy.cfg; the package's service is not used).
#                           dnsmasq is the DNS server the discovery tests start on a loopback
#                           port with SRV records (tests/integration/discovery.rs); the package
#                           is `dnsmasq-base`, the executable alone: `dnsmasq` would also install
#                           a system service answering on port 53.
#
# Whether a package is installed is asked of the package manager (`dpkg -s NAME`), never guessed
# from files: a glob for libclang once matched libclang-cpp.so, a different library, and every new
# user's first build failed in bindgen. Commands that come from other packagers than Debian
# (Node from NodeSource, Python from pyenv) count as present when the command runs.
#
# Missing packages are installed with apt-get as root, or through sudo when sudo works without a
# password prompt. Otherwise it prints the exact apt-get line and exits 2 before anything builds.
# Environment: SETUP_SYSTEM_DRY_RUN=1 prints the decision without installing (used by its test).
set -euo pipefail

profile="${1:-test}"
case "$profile" in
  build) packages=(build-essential) ; commands=() ;;
  test)
    packages=(build-essential cmake libclang-dev postgresql prometheus tmux chromium podman runc debootstrap curl haproxy dnsmasq-base)
    # command:package pairs: the command satisfies the need when it runs, else the package.
    commands=(python3:python3 python3:python3-venv pip3:python3-pip node:nodejs npm:npm)
    ;;
  *) echo "usage: setup-system.sh [build|test]" >&2; exit 2 ;;
esac

# dpkg's whole answer is read (grep without -q): under pipefail, a grep -q that stops at the
# Status line makes dpkg's next write fail with SIGPIPE once its answer outgrows one stdio buffer
# (4 KiB; podman's does), and an installed package counted as missing.
installed() { dpkg -s "$1" 2>/dev/null | grep -x 'Status: install ok installed' >/dev/null; }

need=()
if ! command -v dpkg >/dev/null 2>&1; then
  echo "setup-system: not a Debian system (no dpkg): make sure these are installed: ${packages[*]}" >&2
else
  for p in "${packages[@]}"; do installed "$p" || need+=("$p"); done
fi
for pair in "${commands[@]}"; do
  cmd="${pair%%:*}" pkg="${pair#*:}"
  if [ "$pkg" = python3-venv ]; then
    # The venv module is what is needed; pyenv's Python has it, Debian's needs python3-venv.
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=("$pkg")
  else
    command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
  fi
done

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

line="apt-get install -y ${need[*]}"
if [ "${SETUP_SYSTEM_DRY_RUN:-0}" = 1 ]; then
  echo "setup-system: would run: $line"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo_cmd=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo_cmd=(sudo)
else
  echo "setup-system: missing Debian packages: ${need[*]}" >&2
  echo "setup-system: the build cannot succeed without them; as root, run:" >&2
  echo "  apt-get update && $line" >&2
  exit 2
fi
echo "setup-system: installing ${need[*]}" >&2
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
for p in "${need[@]}"; do
  case "$p" in python3|python3-venv|python3-pip|nodejs|npm) continue ;; esac
  installed "$p" || { echo "setup-system: $p is still not installed after apt-get" >&2; exit 2; }
done
