"""An MCP client session against ``memcore mcp`` over stdio (``agent-memcore-mcp``).

The client (the official ``mcp`` SDK's, as an agent host would use) starts the server
as a subprocess for one user: the server's ``--user``, never a tool argument, decides
whose memories the session touches. It records two interventions, sets the outcome
of one once it is known, then asks what worked. Tools come back as structured results;
a bad argument is a tool error (``is_error``) the model can read, not a crash::

    pip install 'agent-memcore[mcp]'
    python examples/mcp_client_session.py
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from mcp import Client, StdioServerParameters

USER = "user-42"


def server() -> StdioServerParameters:
    """``memcore mcp --user user-42`` with this process's ``MEMCORE_*`` settings."""
    settings = {name: value for name, value in os.environ.items() if name.startswith("MEMCORE_")}
    return StdioServerParameters(
        command=sys.executable,
        args=["-c", "from memcore.cli import main; main()", "mcp", "--user", USER],
        env=settings,
    )


async def main() -> list[dict[str, Any]]:
    """Record, update an outcome, ask what worked, and show a tool error; returns the hits."""
    async with Client(server()) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        print("tools:", ", ".join(names))  # noqa: T201 - an example prints
        ids = []
        for text, outcome in [
            ("Two minutes of box breathing.", "unknown"),  # not known yet
            ("List five things you can see.", "user_resisted"),
        ]:
            written = await client.call_tool(
                "record_intervention",
                {"text": text, "task": "calm_down", "outcome": outcome,
                 "context": "anxious before a job interview"},
            )  # fmt: skip
            ids.append((written.structured_content or {})["id"])
        # Later, the user says the breathing helped.
        await client.call_tool("update_outcome", {"record_id": ids[0], "outcome": "task_completed"})
        worked = await client.call_tool(
            "what_worked", {"situation": "nervous before a meeting", "task": "calm_down", "k": 3}
        )
        answer = worked.structured_content or {}
        for hit in answer["hits"]:
            print(f"{hit['score']:.2f} {hit['outcome']}: {hit['text']}")  # noqa: T201 - an example prints
        print(*(rate["summary"] for rate in answer["rates"]))  # noqa: T201 - an example prints
        refused = await client.call_tool("search_interventions", {"situation": "x", "k": 0})
        print("error:", refused.is_error, refused.content[0].text)  # noqa: T201 - an example prints
    hits: list[dict[str, Any]] = answer["hits"]
    return hits


if __name__ == "__main__":
    asyncio.run(main())
