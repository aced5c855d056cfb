"""The official Python MCP SDK as the host of `mcp-orchestrator serve`.

Usage: python python_host.py ORCHESTRATOR CONFIG

Drives the orchestrator over stdio with `ClientSession` (legacy initialize) and then with the
high-level `Client` in auto mode (server/discover probe, then fallback), and prints one JSON
object with what it saw. Exits non-zero on any failed expectation.
"""

import json
import sys
import time

import anyio
from mcp import Client, ClientSession, StdioServerParameters, stdio_client


async def wait_for_tools(session, wanted, limit=60.0):
    deadline = time.monotonic() + limit
    while True:
        names = [t.name for t in (await session.list_tools()).tools]
        if all(w in names for w in wanted) or time.monotonic() > deadline:
            return names
        await anyio.sleep(0.2)


async def legacy(params, out):
    t0 = time.monotonic()
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            init = await s.initialize()
            out["protocol"] = init.protocol_version
            out["server"] = init.server_info.name
            names = await wait_for_tools(s, ["everything__echo", "time__get_current_time"])
            out["tools_ready_s"] = round(time.monotonic() - t0, 2)
            out["tools"] = names
            r = await s.call_tool("everything__echo", {"message": "hi from python"})
            out["echo"] = [c.model_dump(exclude_none=True) for c in r.content]
            out["echo_is_error"] = r.is_error
            r = await s.call_tool("time__get_current_time", {"timezone": "Europe/Paris"})
            out["time_is_error"] = r.is_error
            out["time"] = r.structured_content
            progress = []

            async def on_progress(p, total, message):
                progress.append([p, total])

            r = await s.call_tool(
                "everything__trigger-long-running-operation",
                {"duration": 1, "steps": 4},
                progress_callback=on_progress,
            )
            out["long_running_is_error"] = r.is_error
            out["progress"] = progress
            r = await s.call_tool("orchestrator_status", {})
            out["status"] = r.structured_content


async def auto(params, out):
    async with Client(params) as c:
        names = await wait_for_tools(c, ["everything__echo", "time__get_current_time"])
        out["auto_tools"] = len(names)
        r = await c.call_tool("orchestrator_status", {})
        out["auto_status_is_error"] = r.is_error


async def main():
    orchestrator, config = sys.argv[1], sys.argv[2]
    params = StdioServerParameters(command=orchestrator, args=["--config", config, "serve"])
    out = {}
    await legacy(params, out)
    await auto(params, out)
    print(json.dumps(out))
    problems = []
    if out["protocol"] != "2025-11-25":
        problems.append(f"protocol {out['protocol']}")
    if "everything__echo" not in out["tools"] or "time__get_current_time" not in out["tools"]:
        problems.append(f"tools {out['tools']}")
    if out["echo"] != [{"type": "text", "text": "Echo: hi from python"}] or out["echo_is_error"]:
        problems.append(f"echo {out['echo']}")
    if out["time_is_error"]:
        problems.append("time call failed")
    if out["long_running_is_error"] or len(out["progress"]) < 4:
        problems.append(f"progress {out['progress']}")
    if out["auto_tools"] != len(out["tools"]) or out["auto_status_is_error"]:
        problems.append("auto mode")
    if problems:
        print("FAILED: " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)


anyio.run(main)
