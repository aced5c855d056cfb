#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 60): config parsing, the host-facing
# framing, the child-side id recovery, the direct tools/call read against rmcp's. Needs the
# nightly toolchain (rustup) and cargo-fuzz, which this installs from crates.io if missing. Findings land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in config_parse host_frame child_frame tool_call_read fast_path; do
  mkdir -p "fuzz/corpus/$target"
  echo "fuzz: $target for ${seconds}s" >&2
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -max_len=65536
done
