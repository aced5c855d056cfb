"""The official Python MCP SDK using jobs and artifacts through `mcp-orchestrator serve`.

Usage: python python_jobs.py ORCHESTRATOR CONFIG

Lists the tools, submits a tool job and waits for it with `job_status`, registers an artifact
with inline content, finds it among the resources (`artifact://<id>`) and reads it, counts the
`notifications/resources/list_changed` it was sent, and asks for an unknown job. Prints one JSON
object with what it saw.
"""

import json
import os
import sys

import anyio
import mcp.types as types
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError


async def main():
    orchestrator, config = sys.argv[1], sys.argv[2]
    params = StdioServerParameters(
        command=orchestrator, args=["--config", config, "serve"], env=dict(os.environ)
    )
    out = {"list_changed": 0}

    async def on_message(message):
        if isinstance(message, types.ResourceListChangedNotification):
            out["list_changed"] += 1

    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, message_handler=on_message) as s:
            await s.initialize()
            out["tools"] = sorted(t.name for t in (await s.list_tools()).tools)

            r = await s.call_tool(
                "job_submit", {"tool": "fx__echo", "arguments": {"message": "from python"}}
            )
            job_id = r.structured_content["job_id"]
            r = await s.call_tool("job_status", {"job_id": job_id, "wait_seconds": 20})
            out["job"] = r.structured_content

            r = await s.call_tool(
                "artifact_register",
                {"name": "note.txt", "type": "report", "content": "hello artifact",
                 "mime_type": "text/plain", "tags": ["py"]},
            )
            out["artifact"] = r.structured_content
            uri = "artifact://" + r.structured_content["id"]
            out["resources"] = [str(x.uri) for x in (await s.list_resources()).resources]
            read = await s.read_resource(uri)
            content = read.contents[0]
            out["read"] = {"uri": str(content.uri), "text": getattr(content, "text", None)}

            try:
                await s.call_tool("job_status", {"job_id": "no-such-job"})
                out["unknown_job_error"] = None
            except MCPError as e:
                out["unknown_job_error"] = str(e)
            # Give the list_changed notification time to arrive.
            await anyio.sleep(0.5)
    print(json.dumps(out))


anyio.run(main)
