"""An MCP client session against ``memcore mcp`` over stdio (``agent-memcore-mcp``).

The client (the official ``mcp`` SDK's, as an agent host would use) starts the server
as a subprocess for one user: the server's ``--user``, never a tool argument, decides
whose memories the session touches. It records an intervention, then asks what
worked. Tools come back as structured results; a bad argument is a tool error
(``is_error``) the model can read, not a crash::

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
    """Record, search, and show a tool error; returns the hits."""
    async with Client(server()) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        print("tools:", ", ".join(names))  # noqa: T201 - an example prints
        for text, outcome in [
            ("Two minutes of box breathing.", "task_completed"),
            ("List five things you can see.", "user_resisted"),
        ]:
            await client.call_tool(
                "record_intervention",
                {"text": text, "task": "calm_down", "outcome": outcome,
                 "context": "anxious before a job interview"},
            )  # fmt: skip
        found = await client.call_tool(
            "search_interventions",
            {"situation": "nervous before a meeting", "outcome": "task_completed", "k": 3},
        )
        hits: list[dict[str, Any]] = (found.structured_content or {})["hits"]
        for hit in hits:
            print(f"{hit['score']:.2f} {hit['text']}")  # noqa: T201 - an example prints
        refused = await client.call_tool("search_interventions", {"situation": "x", "k": 0})
        print("error:", refused.is_error, refused.content[0].text)  # noqa: T201 - an example prints
    return hits


if __name__ == "__main__":
    asyncio.run(main())
