"""The official Python MCP SDK as a handshake-era (2025-11-25) host of `mcp-orchestrator serve`,
with one child in each era (the conformance scenario server: `modern__*` speaks 2026-07-28,
`legacy__*` is legacy-only).

Usage: python python_eras.py ORCHESTRATOR CONFIG   (stdio: starts `serve`)
       python python_eras.py http://HOST:PORT/mcp      (a running `serve --http`)

- legacy host, modern child: the child's InputRequiredResult becomes real elicitation/create,
  sampling/createMessage and roots/list requests to this host, and the host sees one call;
- legacy host, legacy child: the child's own requests reach this host as before;
- a child's task (tasks extension) is polled by the orchestrator for this host, which cannot
  poll, its input requests answered through this host, and the result is an ordinary call's;
- a host without the elicitation capability gets an error naming it.

Prints one JSON object with what it saw; exits non-zero on any failed expectation.
"""

import json
import sys
import time

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp import types
from mcp.client.streamable_http import streamable_http_client

asked = []
updated = []


async def on_message(message):
    # Notifications reach the session's message handler; keep resource updates.
    note = getattr(message, "root", message)
    if getattr(note, "method", None) == "notifications/resources/updated":
        updated.append(str(note.params.uri))


async def on_elicit(context, params):
    asked.append("elicitation")
    return types.ElicitResult(
        action="accept",
        content={"name": "Alice", "username": "alice", "email": "alice@example.com", "confirm": True},
    )


async def on_sample(context, params):
    asked.append("sampling")
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text="sampled by the host"),
        model="test-model",
    )


async def on_roots(context):
    asked.append("roots")
    return types.ListRootsResult(roots=[types.Root(uri="file:///work", name="work")])


async def wait_for_tools(session, wanted, limit=30.0):
    deadline = time.monotonic() + limit
    while True:
        names = [t.name for t in (await session.list_tools()).tools]
        if all(w in names for w in wanted) or time.monotonic() > deadline:
            return names
        await anyio.sleep(0.2)


def text(result):
    return result.content[0].text if result.content else ""


def connect(target):
    """The transport to the orchestrator: a `serve` it starts, or a running `serve --http`."""
    if isinstance(target, str):
        return streamable_http_client(target)
    return stdio_client(target)


async def with_input(params, out):
    async with connect(params) as (read, write):
        async with ClientSession(
            read,
            write,
            sampling_callback=on_sample,
            elicitation_callback=on_elicit,
            list_roots_callback=on_roots,
            message_handler=on_message,
        ) as s:
            init = await s.initialize()
            out["protocol"] = init.protocol_version
            await wait_for_tools(
                s, ["modern__test_input_required_result_elicitation", "legacy__test_elicitation"]
            )
            r = await s.call_tool("modern__test_input_required_result_elicitation", {})
            out["modern_elicitation"] = [r.is_error, text(r)]
            r = await s.call_tool("modern__test_input_required_result_multiple_inputs", {})
            out["modern_multiple"] = [r.is_error, text(r)]
            r = await s.call_tool("modern__test_input_required_result_multi_round", {})
            out["modern_multi_round"] = [r.is_error, text(r)]
            r = await s.call_tool("legacy__test_elicitation", {"message": "Who are you?"})
            out["legacy_elicitation"] = [r.is_error, text(r)]
            r = await s.call_tool("modern__slow_compute", {"seconds": 0.3, "label": "sum"})
            out["task_followed"] = [r.is_error, text(r)]
            r = await s.call_tool("modern__multi_input", {})
            out["task_with_input"] = [r.is_error, text(r)]
            # A subscription to a stateless child's resource: a listen stream to the child.
            await s.subscribe_resource("test://watched-resource")
            # The child registers a listen stream just after acknowledging it, so a trigger sent
            # in that instant may find no stream yet: trigger again until the update arrives.
            deadline = time.monotonic() + 10
            while "test://watched-resource" not in updated and time.monotonic() < deadline:
                await s.call_tool("modern__test_trigger_resource_change", {})
                for _ in range(10):
                    if "test://watched-resource" in updated:
                        break
                    await anyio.sleep(0.05)
            out["resource_updated"] = sorted(set(updated))
            await s.unsubscribe_resource("test://watched-resource")
            r = await s.call_tool("orchestrator_status", {})
            servers = (r.structured_content or {}).get("servers", {})
            out["eras"] = {k: v.get("era") for k, v in servers.items()}
            out["hosts"] = [
                [h.get("era"), h.get("protocol_version")]
                for h in (r.structured_content or {}).get("hosts", [])
            ]
            out["asked"] = sorted(set(asked))


async def without_input(params, out):
    async with connect(params) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            await wait_for_tools(s, ["modern__test_input_required_result_elicitation"])
            try:
                r = await s.call_tool("modern__test_input_required_result_elicitation", {})
                out["no_capability"] = [r.is_error, text(r)]
            except Exception as e:  # an MCP error: what the host is told
                out["no_capability"] = ["error", str(e)]


async def main():
    if sys.argv[1].startswith("http"):
        params = sys.argv[1]
    else:
        orchestrator, config = sys.argv[1], sys.argv[2]
        params = StdioServerParameters(command=orchestrator, args=["--config", config, "serve"])
    out = {}
    await with_input(params, out)
    await without_input(params, out)
    print(json.dumps(out))
    problems = []
    if out["protocol"] != "2025-11-25":
        problems.append(f"protocol {out['protocol']}")
    if out["modern_elicitation"] != [False, "Hello, Alice!"]:
        problems.append(f"modern elicitation {out['modern_elicitation']}")
    multiple = out["modern_multiple"]
    if multiple[0] or "Alice" not in multiple[1] or "sampled by the host" not in multiple[1]:
        problems.append(f"modern multiple inputs {multiple}")
    if out["modern_multi_round"][0] or "Alice" not in out["modern_multi_round"][1]:
        problems.append(f"modern multi round {out['modern_multi_round']}")
    legacy = out["legacy_elicitation"]
    if legacy[0] or "alice@example.com" not in legacy[1]:
        problems.append(f"legacy elicitation {legacy}")
    if out["task_followed"] != [False, "sum: computed after 0.3 s"]:
        problems.append(f"task followed {out['task_followed']}")
    twi = out["task_with_input"]
    if twi[0] or "Alice" not in twi[1] or "true" not in twi[1]:
        problems.append(f"task with input {twi}")
    if out["asked"] != ["elicitation", "roots", "sampling"]:
        problems.append(f"asked {out['asked']}")
    if out["eras"].get("modern") != "modern" or out["eras"].get("legacy") != "legacy":
        problems.append(f"eras {out['eras']}")
    if out["resource_updated"] != ["test://watched-resource"]:
        problems.append(f"resource updated {out['resource_updated']}")
    if ["legacy", "2025-11-25"] not in out["hosts"]:
        problems.append(f"hosts {out['hosts']}")
    if "elicitation" not in out["no_capability"][1]:
        problems.append(f"no capability {out['no_capability']}")
    if problems:
        print("FAILED: " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)


anyio.run(main)
