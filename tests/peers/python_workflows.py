"""The official Python MCP SDK running workflows through `mcp-orchestrator serve`.

Usage: python python_workflows.py ORCHESTRATOR CONFIG

Lists the `workflow__*` tools, runs one with a progress callback, runs one that fails and
compensates, and cancels a stuck one by abandoning the call (the SDK sends
notifications/cancelled), then reads the cancelled run with `workflow_status`. Prints one JSON
object with what it saw.
"""

import json
import os
import sys
import time

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client


async def main():
    orchestrator, config = sys.argv[1], sys.argv[2]
    # The whole environment: the test points XDG_STATE_HOME (the store) at its temp dir.
    params = StdioServerParameters(
        command=orchestrator, args=["--config", config, "serve"], env=dict(os.environ)
    )
    out = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            tools = {t.name: t for t in (await s.list_tools()).tools}
            out["tools"] = sorted(tools)
            out["greet_schema"] = tools["workflow__greet"].input_schema

            progress = []

            async def on_progress(p, total, message):
                progress.append([p, total, message])

            r = await s.call_tool("workflow__greet", {"who": "Py"}, progress_callback=on_progress)
            out["greet"] = r.structured_content
            out["greet_is_error"] = r.is_error
            out["greet_progress"] = progress

            r = await s.call_tool("workflow__saga", {})
            out["saga"] = r.structured_content
            out["saga_is_error"] = r.is_error

            started = []

            async def on_stuck(p, total, message):
                if message and message.startswith("run "):
                    started.append(message.split()[1])

            with anyio.move_on_after(2.0):
                await s.call_tool("workflow__stuck", {}, progress_callback=on_stuck)
            out["stuck_run"] = started[0] if started else None
            deadline = time.monotonic() + 15
            status = None
            while started and time.monotonic() < deadline:
                r = await s.call_tool("workflow_status", {"run_id": started[0]})
                status = r.structured_content
                if status["status"] == "cancelled":
                    break
                await anyio.sleep(0.1)
            out["stuck"] = status
    print(json.dumps(out))


anyio.run(main)
