#!/usr/bin/env python3
"""Benchmark mcp-local-llama against llama-cpp-python's OpenAI-compatible server.

Both engines load the same GGUF file with the same thread count and context size, and answer
the same chat (a fixed prompt of about 200 tokens, temperature 0, a fixed max_tokens and seed).

    python3 benches/local_inference.py --model .cache/models/gemma-3-270m-q4_k_m.gguf \\
        --ours /path/to/release/mcp-local-llama \\
        [--llama-cpp-python .cache/llamacpp-py/bin/python] [--threads 2] [--runs 5] [--json out.json]

What is measured (see docs/benchmarks.md for the discussion):

* load time: process spawn -> ready. Ours: until the `initialize` response arrives over stdio
  (the server loads the model before it serves MCP). llama-cpp-python: until
  `GET /v1/models` first answers 200 (polled every 20 ms). Both include process start-up
  (for llama-cpp-python: importing Python, numpy, FastAPI, uvicorn). Measured in the first
  session and again in --load-runs extra start/stop cycles.
* prompt tok/s: tokens evaluated for the prompt / the engine's own prompt-decode time.
  Ours: the `prompt_tokens` and `prompt_ms` fields of the `chat done` stderr line (time spent in
  llama_decode for the prompt batch). llama-cpp-python: llama.cpp's own counter printed by
  `llama_perf_context_print` (`prompt eval time = X ms / N tokens`), i.e. the same llama_decode time.
* generation tok/s: completion_tokens (from each engine's `usage`) / (wall time - engine prompt
  time). It is the same quantity for both engines: everything after the prompt decode (sampling,
  per-token decode, detokenisation, stop checks, building and sending the response), as the client
  sees it.
* engine gen tok/s (secondary, not the same definition): ours = `gen_tok_per_s` of the
  `chat done` line (generated tokens / time of the sample+decode loop); llama-cpp-python =
  llama.cpp's `eval time = Y ms / M runs` counter (single-token llama_decode calls only, no
  sampling, no Python loop).
* wall time: client-side, from writing the request to having parsed the complete response.
* peak RSS: VmHWM of the server process (from /proc/PID/status) after the warm-up and all runs;
  includes the mmapped model pages that were touched. Also RSS right after load.

Fairness details: the runs alternate the engines (ours, theirs, ours, ...; the order flips every
run) with a short pause between requests, so background load hits both. Each request starts its
user message with a fixed-width run tag ("[request 007]") so that llama-cpp-python cannot reuse
its KV cache from the previous identical prompt (it keeps and prefix-matches it; ours clears the
cache on every call): both engines then decode the whole prompt on every request. The
llama-cpp-python request sets repeat_penalty 1.0 (its server defaults to 1.1, which ours does not
apply) so both sample greedily from the raw logits at temperature 0.

Python 3 standard library only. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

PROTOCOL_VERSION = "2025-11-25"
SEED = 42

# About 200 tokens once templated (Gemma-3 tokenizer). Fixed: changing it changes the results.
PROMPT = (
    "The following notes describe a small regional railway. The line runs for forty-two "
    "kilometres along a river valley, from the market town at the coast to a village in the "
    "hills. It has nine stations, two of which are request stops. Trains run every hour in "
    "each direction from six in the morning until eleven at night, with extra services on "
    "market days. The rolling stock consists of four diesel railcars built in the nineteen "
    "eighties and two newer battery trains that charge at the terminus while passengers board. "
    "The timetable allows three minutes at the passing loop in the middle of the line, where "
    "trains in opposite directions cross. In winter, snow sometimes closes the upper section, "
    "and a replacement bus runs between the last three stations. The operator is considering "
    "longer trains on market days, a later last departure on Fridays, and a new halt near the "
    "hospital. Summarise the notes in three short sentences for a passenger leaflet."
)


# --------------------------------------------------------------------------------------------
# helpers


def now() -> float:
    return time.perf_counter()


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM in kB from /proc/PID/status (empty if the process is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(rest.split()[0])
    except OSError:
        pass
    return out


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text(encoding="ascii").strip()
    except OSError:
        return "?"


def machine() -> dict:
    info = {"nproc": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()}
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                info["mem_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return info


class StderrTail:
    """Collects a child's stderr lines in a thread (so the pipe never fills up)."""

    def __init__(self, stream, log_path: Path | None):
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.log = open(log_path, "w", encoding="utf-8") if log_path else None
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if self.log:
                self.log.write(line + "\n")
                self.log.flush()
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.lines.append("\0EOF")
            self.cond.notify_all()

    def mark(self) -> int:
        with self.cond:
            return len(self.lines)

    def wait_for(self, start: int, predicate, timeout: float) -> list[str] | None:
        """Waits until the lines from `start` on satisfy `predicate` (returns them) or timeout."""
        deadline = now() + timeout
        with self.cond:
            while True:
                chunk = self.lines[start:]
                if predicate(chunk):
                    return chunk
                left = deadline - now()
                if left <= 0 or (chunk and chunk[-1] == "\0EOF"):
                    return None
                self.cond.wait(left)

    def tail(self, n: int = 20) -> str:
        with self.cond:
            return "\n".join(l for l in self.lines[-n:] if l != "\0EOF")


def user_message(run_tag: str) -> str:
    # Fixed width tag: every request has the same token count but a different prefix.
    return f"[request {run_tag}] {PROMPT}"


# --------------------------------------------------------------------------------------------
# engines


class EngineError(RuntimeError):
    pass


class Ours:
    """mcp-local-llama over stdio, raw newline-delimited JSON-RPC."""

    label = "mcp-local-llama"
    DONE = re.compile(
        r"chat done .*?prompt_tokens=(\d+) prompt_ms=(\d+) prompt_tok_per_s=\"?([\d.]+)\"? "
        r"generated_tokens=(\d+) gen_ms=(\d+) gen_tok_per_s=\"?([\d.]+)\"?"
    )

    def __init__(self, args, log_path: Path | None):
        self.args = args
        self.log_path = log_path
        self.next_id = 0

    def start(self) -> float:
        env = dict(os.environ)
        env.update(
            MODEL_PATH=str(self.args.model),
            LLAMA_THREADS=str(self.args.threads),
            LLAMA_CTX_SIZE=str(self.args.ctx_size),
            LLAMA_MAX_TOKENS=str(self.args.max_tokens),
            # The `chat done` timing line is at info; keep llama.cpp's own chatter at warn.
            RUST_LOG="info,rmcp=warn,llama-cpp-2=warn",
        )
        env.pop("LLAMA_CHAT_TEMPLATE", None)  # the built-in gemma template, like --chat_format gemma
        t0 = now()
        self.proc = subprocess.Popen(
            [str(self.args.ours)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.err = StderrTail(self.proc.stderr, self.log_path)
        self._request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "local_inference-bench", "version": "1"},
            },
        )
        ready = now() - t0
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return ready

    def _send(self, msg: dict):
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError as e:
            raise EngineError(f"{self.label} exited; stderr:\n{self.err.tail()}") from e

    def _request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        rid = self.next_id
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise EngineError(
                    f"{self.label} closed stdout (exit {self.proc.poll()}); stderr:\n{self.err.tail()}"
                )
            msg = json.loads(line)
            if msg.get("id") != rid:
                continue  # a notification or a request from the server: not ours to answer here
            if "error" in msg:
                raise EngineError(f"{self.label} {method}: {msg['error']}")
            return msg["result"]

    def chat(self, run_tag: str) -> dict:
        mark = self.err.mark()
        t0 = now()
        result = self._request(
            "tools/call",
            {
                "name": "chat",
                "arguments": {
                    "message": user_message(run_tag),
                    "temperature": 0,
                    "max_tokens": self.args.max_tokens,
                    "seed": SEED,
                },
            },
        )
        wall = now() - t0
        if result.get("isError"):
            raise EngineError(f"{self.label} chat failed: {result.get('content')}")
        out = result["structuredContent"]
        lines = self.err.wait_for(mark, lambda ls: any(self.DONE.search(l) for l in ls), 5.0)
        if lines is None:
            raise EngineError(f"{self.label}: no `chat done` timing line on stderr:\n{self.err.tail()}")
        m = next(self.DONE.search(l) for l in lines if self.DONE.search(l))
        prompt_n, prompt_ms, _, gen_n, gen_ms, _ = m.groups()
        return {
            "wall_s": wall,
            "prompt_tokens": out["usage"]["prompt_tokens"],
            "completion_tokens": out["usage"]["completion_tokens"],
            "finish_reason": out.get("finish_reason"),
            "prompt_eval_tokens": int(prompt_n),
            "prompt_eval_ms": float(prompt_ms),
            "engine_gen_tokens": int(gen_n),
            "engine_gen_ms": float(gen_ms),
            "text": out["message"],
        }

    def stop(self) -> dict:
        mem = proc_status(self.proc.pid)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return mem


class LlamaCppPython:
    """llama-cpp-python's OpenAI-compatible server on a free loopback port."""

    label = "llama-cpp-python"
    PROMPT_EVAL = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
    EVAL = re.compile(r"(?<!prompt )eval time =\s*([\d.]+) ms /\s*(\d+) runs")

    def __init__(self, args, log_path: Path | None):
        self.args = args
        self.log_path = log_path

    def start(self) -> float:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        a = self.args
        cmd = [
            str(a.llama_cpp_python), "-m", "llama_cpp.server",
            "--model", str(a.model),
            "--n_threads", str(a.threads), "--n_threads_batch", str(a.threads),
            "--n_ctx", str(a.ctx_size),
            "--chat_format", "gemma",
            "--seed", str(SEED),
            "--host", "127.0.0.1", "--port", str(self.port),
        ] + shlex.split(a.llama_cpp_python_args)  # fmt: skip
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        t0 = now()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)  # fmt: skip
        self.err = StderrTail(self.proc.stderr, self.log_path)
        url = f"http://127.0.0.1:{self.port}/v1/models"
        deadline = t0 + 300
        while True:
            if self.proc.poll() is not None:
                raise EngineError(f"{self.label} exited with {self.proc.returncode}:\n{self.err.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return now() - t0
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if now() > deadline:
                raise EngineError(f"{self.label} not ready after 300 s:\n{self.err.tail()}")
            time.sleep(0.02)

    def chat(self, run_tag: str) -> dict:
        body = {
            "messages": [{"role": "user", "content": user_message(run_tag)}],
            "temperature": 0,
            "max_tokens": self.args.max_tokens,
            "seed": SEED,
            "repeat_penalty": 1.0,
        }
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v1/chat/completions",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        mark = self.err.mark()
        t0 = now()
        with urllib.request.urlopen(req, timeout=600) as r:
            out = json.loads(r.read())
        wall = now() - t0

        def complete(lines):
            return any(self.PROMPT_EVAL.search(l) for l in lines) and any(self.EVAL.search(l) for l in lines)

        lines = self.err.wait_for(mark, complete, 5.0)
        if lines is None:
            raise EngineError(
                f"{self.label}: no llama_perf_context_print timings on stderr (is verbose off?):\n"
                f"{self.err.tail()}"
            )
        pm = next(self.PROMPT_EVAL.search(l) for l in lines if self.PROMPT_EVAL.search(l))
        em = next(self.EVAL.search(l) for l in lines if self.EVAL.search(l))
        return {
            "wall_s": wall,
            "prompt_tokens": out["usage"]["prompt_tokens"],
            "completion_tokens": out["usage"]["completion_tokens"],
            "finish_reason": out["choices"][0].get("finish_reason"),
            "prompt_eval_tokens": int(pm.group(2)),
            "prompt_eval_ms": float(pm.group(1)),
            "engine_gen_tokens": int(em.group(2)),
            "engine_gen_ms": float(em.group(1)),
            "text": out["choices"][0]["message"]["content"],
        }

    def system_info(self) -> str | None:
        with self.err.cond:
            for line in self.err.lines:
                if "SSE3 =" in line or "AVX2 =" in line:
                    return line.strip()
        return None

    def stop(self) -> dict:
        mem = proc_status(self.proc.pid)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return mem


# --------------------------------------------------------------------------------------------
# figures


def derive(r: dict) -> dict:
    prompt_s = r["prompt_eval_ms"] / 1000
    after_prompt = r["wall_s"] - prompt_s
    r["prompt_tps"] = r["prompt_eval_tokens"] / prompt_s if prompt_s > 0 else float("nan")
    r["gen_tps"] = r["completion_tokens"] / after_prompt if after_prompt > 0 else float("nan")
    r["engine_gen_tps"] = (
        r["engine_gen_tokens"] / (r["engine_gen_ms"] / 1000) if r["engine_gen_ms"] > 0 else float("nan")
    )
    return r


ROWS = [
    # key, label, unit, higher is better
    ("load_s", "load time (spawn → ready)", "s", False),
    ("prompt_tps", "prompt tok/s (engine's prompt-decode time)", "tok/s", True),
    ("gen_tps", "generation tok/s (completion_tokens / (wall − prompt time))", "tok/s", True),
    ("engine_gen_tps", "engine-reported gen tok/s (definitions differ, see notes)", "tok/s", True),
    ("wall_s", "wall time per request", "s", False),
    ("rss_load_mib", "RSS after load", "MiB", False),
    ("peak_rss_mib", "peak RSS (VmHWM)", "MiB", False),
]


def fmt(v: float) -> str:
    if v != v:  # NaN
        return "–"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def cell(values: list[float]) -> str:
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med)
    return f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))})"


def paired_ratios(runs: list[dict], labels: list[str]) -> dict[str, list[float]]:
    """Per run (both engines answered the same request back to back): ours / theirs."""
    out: dict[str, list[float]] = {}
    if len(labels) != 2:
        return out
    by_run: dict[int, dict[str, dict]] = {}
    for r in runs:
        by_run.setdefault(r["run"], {})[r["engine"]] = r
    for pair in by_run.values():
        if len(pair) == 2:
            a, b = pair[labels[0]], pair[labels[1]]
            for key in ("prompt_tps", "gen_tps", "engine_gen_tps", "wall_s"):
                if b[key]:
                    out.setdefault(key, []).append(a[key] / b[key])
    return out


def summarise(series: dict[str, dict[str, list[float]]], labels: list[str],
              paired: dict[str, list[float]] | None = None) -> str:  # fmt: skip
    paired = paired or {}
    head = "| metric | " + " | ".join(labels)
    head += " | ours / theirs (of medians) | ours / theirs (per run: median, min–max) |" if len(labels) == 2 else " |"
    sep = "|---|" + "---:|" * (len(labels) + (2 if len(labels) == 2 else 0))
    out = [head, sep]
    for key, label, unit, higher_better in ROWS:
        cols = [series[l].get(key, []) for l in labels]
        row = f"| {label} [{unit}] | " + " | ".join(cell(c) for c in cols)
        if len(labels) == 2:
            a, b = cols
            ratio = statistics.median(a) / statistics.median(b) if a and b and statistics.median(b) else None
            row += f" | {ratio * 100:.0f} %" if ratio else " | –"
            pr = paired.get(key)
            if pr:
                row += f" | {statistics.median(pr) * 100:.0f} % ({min(pr) * 100:.0f}–{max(pr) * 100:.0f} %) |"
            else:
                row += " | – |"
        else:
            row += " |"
        out.append(row)
    return "\n".join(out)


# --------------------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="the GGUF file both engines load")
    p.add_argument("--ours", type=Path, required=True, help="the mcp-local-llama binary")
    p.add_argument("--llama-cpp-python", type=Path, help="a python with llama_cpp[server] installed")
    p.add_argument("--llama-cpp-python-args", default="",
                   help="extra llama_cpp.server flags, e.g. '--logits_all false --flash_attn true' "
                        "(default: none, i.e. the server's defaults: logits_all=true, flash_attn=false)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ctx-size", type=int, default=2048)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--load-runs", type=int, default=3,
                   help="extra start/stop cycles per engine for the load-time figure (default 3)")
    p.add_argument("--pause", type=float, default=1.0, help="seconds between requests (default 1)")
    p.add_argument("--json", type=Path, help="also write all runs and the summary here")
    p.add_argument("--engine-logs", type=Path, help="directory for each engine's full stderr")
    args = p.parse_args()

    if not args.model.is_file():
        p.error(f"--model {args.model}: no such file")
    if not os.access(args.ours, os.X_OK):
        p.error(f"--ours {args.ours}: not an executable")
    engines = [Ours]
    if args.llama_cpp_python:
        engines.append(LlamaCppPython)
    else:
        print("note: --llama-cpp-python not given: skipping the llama-cpp-python column "
              "(pass a venv python with 'llama-cpp-python[server]' installed to compare)", file=sys.stderr)  # fmt: skip
    if args.engine_logs:
        args.engine_logs.mkdir(parents=True, exist_ok=True)

    def log_path(cls, what):
        return args.engine_logs / f"{cls.label}.{what}.log" if args.engine_logs else None

    labels = [e.label for e in engines]
    series: dict[str, dict[str, list[float]]] = {l: {} for l in labels}
    runs: list[dict] = []
    loadavgs = [loadavg()]
    info = machine()
    extra: dict = {}

    def add(label, key, value):
        series[label].setdefault(key, []).append(value)

    # Start each engine alone (the other is not yet running or idle), warm it up once.
    live = {}
    try:
        for cls in engines:
            e = cls(args, log_path(cls, "session"))
            print(f"starting {cls.label} …", file=sys.stderr)
            add(cls.label, "load_s", e.start())
            live[cls.label] = e
            add(cls.label, "rss_load_mib", proc_status(e.proc.pid).get("VmRSS", 0) / 1024)
            warm = derive(e.chat("000"))
            print(f"  warm-up: {warm['completion_tokens']} tokens, {warm['wall_s']:.2f} s, "
                  f"prompt {warm['prompt_tokens']} tokens", file=sys.stderr)  # fmt: skip
            extra.setdefault("warmup", {})[cls.label] = warm
            if isinstance(e, LlamaCppPython):
                extra["llama_cpp_python_system_info"] = e.system_info()

        for i in range(1, args.runs + 1):
            order = labels if i % 2 else labels[::-1]
            for label in order:
                time.sleep(args.pause)
                r = derive(live[label].chat(f"{i:03d}"))
                r.update(engine=label, run=i, loadavg=loadavg())
                runs.append(r)
                for key in ("prompt_tps", "gen_tps", "engine_gen_tps", "wall_s"):
                    add(label, key, r[key])
                print(f"  run {i} {label:17s} prompt {r['prompt_tps']:7.1f} tok/s  gen {r['gen_tps']:6.1f} tok/s"
                      f"  ({r['completion_tokens']} tok, {r['finish_reason']})  wall {r['wall_s']:.2f} s",
                      file=sys.stderr)  # fmt: skip
            loadavgs.append(loadavg())
    finally:
        for label, e in live.items():
            mem = e.stop()
            if mem:
                add(label, "peak_rss_mib", mem.get("VmHWM", 0) / 1024)

    # Extra load-time cycles, alternating engines, each engine alone.
    for i in range(args.load_runs):
        order = engines if i % 2 else engines[::-1]
        for cls in order:
            time.sleep(args.pause)
            e = cls(args, log_path(cls, f"load{i + 1}"))
            add(cls.label, "load_s", e.start())
            e.stop()
    loadavgs.append(loadavg())

    # Both engines must have answered the same thing for the comparison to mean anything.
    notes = []
    for label in labels:
        toks = sorted({r["completion_tokens"] for r in runs if r["engine"] == label})
        ptoks = sorted({r["prompt_tokens"] for r in runs if r["engine"] == label})
        notes.append(f"{label}: prompt_tokens {ptoks}, completion_tokens {toks}")
    if len(labels) == 2:
        same = all(
            a["text"] == b["text"]
            for a in runs for b in runs
            if a["engine"] == labels[0] and b["engine"] == labels[1] and a["run"] == b["run"]
        )  # fmt: skip
        notes.append(f"identical reply text in every run: {'yes' if same else 'no'}")

    paired = paired_ratios(runs, labels)
    table = summarise(series, labels, paired)
    print()
    print(f"machine: {info.get('cpu', '?')}, {info['nproc']} CPUs, {info.get('mem_gib', '?')} GiB; "
          f"threads {args.threads}, ctx {args.ctx_size}, max_tokens {args.max_tokens}, runs {args.runs}")  # fmt: skip
    print(f"model: {args.model.name}")
    print("loadavg (1/5/15 min) at start, after each run round, at the end:")
    for l in loadavgs:
        print(f"  {l}")
    for n in notes:
        print(n)
    if extra.get("llama_cpp_python_system_info"):
        print(f"llama-cpp-python system_info: {extra['llama_cpp_python_system_info']}")
    print()
    print("median (min–max) over runs; load time over 1 + --load-runs starts; the last column pairs "
          "the two engines' requests of the same run (back to back, so under the same background load)")
    print()
    print(table)
    if args.json:
        args.json.write_text(json.dumps({
            "machine": info, "args": {k: str(v) for k, v in vars(args).items()},
            "loadavg": loadavgs, "notes": notes, "runs": runs, "series": series, "paired_ratios": paired, "extra": extra,
            "table_markdown": table,
        }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")  # fmt: skip
    return 0


if __name__ == "__main__":
    import signal

    # SIGTERM (e.g. `timeout`) must still run the `finally` that stops the engines.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(main())
    except EngineError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
