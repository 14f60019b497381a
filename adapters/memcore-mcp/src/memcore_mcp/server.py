"""The MCP server (the official SDK's ``MCPServer``) and how each session finds its user.

- stdio: one user per process, ``MEMCORE_MCP__USER_ID`` (or ``--user``): whoever can
  start the process is that user.
- http: the bearer token of each request, looked up in ``MEMCORE_MCP__TOKENS`` (every
  token compared in constant time); the SDK refuses a request without a known token
  (401) and binds each session to the principal that opened it.

No tool takes a user id, so no argument can reach another user's memories (the flaw
of integrations that trust a ``user_id`` the caller supplies).
"""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from threadpoolctl import threadpool_limits

import memcore
from memcore.security.credentials import user_for
from memcore_mcp.settings import McpSettings
from memcore_mcp.tools import TOOLS, MemoryTools

__all__ = ["TokenMap", "build_server", "serve"]

INSTRUCTIONS = (
    "Long-term memory of the user you are helping. Record each intervention you make "
    "(what you said or did, for which task, in which situation, and its outcome), then "
    "search past interventions in similar situations to find what worked for this user."
)


class TokenMap:
    """A ``TokenVerifier``: a token of ``MEMCORE_MCP__TOKENS`` names its user."""

    def __init__(self, settings: McpSettings) -> None:
        self._tokens = settings.tokens

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's principal (its user as subject), or ``None`` for an unknown one."""
        user_id = user_for(token, self._tokens)
        if user_id is None:
            return None
        return AccessToken(token=token, client_id=user_id, subject=user_id, scopes=[])


def _token_user() -> str:
    token = get_access_token()
    if token is None or token.subject is None:  # the SDK's middleware lets none through
        raise ToolError("not authenticated")
    return token.subject


def _user_of(settings: McpSettings) -> Callable[[], str]:
    if settings.transport == "http":
        return _token_user
    user_id = settings.user_id or ""  # settings refuse stdio without one
    return lambda: user_id


def build_server(memory: memcore.MemoryService, settings: McpSettings) -> MCPServer:
    """The server with the tools of :data:`~memcore_mcp.tools.TOOLS` that ``settings`` allow."""
    http = settings.transport == "http"
    server: MCPServer = MCPServer(
        "memcore",
        instructions=INSTRUCTIONS,
        token_verifier=TokenMap(settings) if http else None,
        # Tokens are checked here, not issued by an OAuth server: the issuer is this one.
        auth=AuthSettings(issuer_url=f"http://{settings.host}", resource_server_url=None)
        if http
        else None,
        log_level="WARNING",
    )
    tools = MemoryTools(memory, _user_of(settings))
    for spec in TOOLS:
        if spec.needs_allow_forget and not settings.allow_forget:
            continue
        server.add_tool(getattr(tools, spec.name), name=spec.name, annotations=spec.annotations)
    return server


async def serve(settings: McpSettings) -> None:
    """Serve until the client hangs up (stdio) or SIGTERM/SIGINT (http), then close the
    service, which replays deferred writes one last time. numpy's BLAS keeps to
    ``blas_threads`` threads meanwhile.
    """
    with threadpool_limits(settings.blas_threads, user_api="blas"):
        await _serve(settings)


async def _serve(settings: McpSettings) -> None:
    async with memcore.connect() as memory:
        server = build_server(memory, settings)
        if settings.transport == "stdio":
            await server.run_stdio_async()
            return
        app = server.streamable_http_app(streamable_http_path=settings.path, host=settings.host)
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")
        await uvicorn.Server(config).serve()
