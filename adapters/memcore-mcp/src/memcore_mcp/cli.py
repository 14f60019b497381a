"""``memcore mcp``: memcore as an MCP server over stdio (default) or streamable HTTP."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from memcore.cli import guarded
from memcore_mcp.server import serve
from memcore_mcp.settings import load_mcp_settings

__all__ = ["mcp"]


def mcp(
    *,
    transport: Annotated[
        str | None, typer.Option(help="stdio or http (MEMCORE_MCP__TRANSPORT).")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="stdio: the user (MEMCORE_MCP__USER_ID).")
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option("--agent", help="stdio: only this agent's memories (MEMCORE_MCP__AGENT_ID)."),
    ] = None,
    session: Annotated[
        str | None,
        typer.Option(
            "--session", help="stdio: only this session's memories (MEMCORE_MCP__SESSION_ID)."
        ),
    ] = None,
    host: Annotated[str | None, typer.Option(help="http: bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="http: port.")] = None,
) -> None:
    """Serve memcore to MCP clients; each session acts for one user only.

    stdio: the user is MEMCORE_MCP__USER_ID or --user (and --agent / --session bind it
    to one agent / session of theirs). http: each request's bearer token names its user
    and scope (MEMCORE_MCP__TOKENS). Settings: MEMCORE_MCP__* and MEMCORE_*.
    """
    given: dict[str, Any] = {
        "transport": transport,
        "user_id": user,
        "agent_id": agent,
        "session_id": session,
        "host": host,
        "port": port,
    }
    settings = guarded(
        lambda: load_mcp_settings(**{name: v for name, v in given.items() if v is not None})
    )
    guarded(lambda: asyncio.run(serve(settings)))
