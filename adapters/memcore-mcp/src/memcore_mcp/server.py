"""The MCP server (the official SDK's ``MCPServer``) and how each session finds its
principal (a user, and optionally the agent and/or session within it).

- stdio: one principal per process, ``MEMCORE_MCP__USER_ID`` (or ``--user``) and the
  optional ``MEMCORE_MCP__AGENT_ID`` / ``MEMCORE_MCP__SESSION_ID``: whoever can start
  the process is that principal.
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
from memcore_mcp.settings import McpSettings, Principal
from memcore_mcp.tools import TOOLS, MemoryTools

__all__ = ["PrincipalToken", "TokenMap", "build_server", "serve"]

INSTRUCTIONS = (
    "Long-term memory of the user you are helping. Record each intervention you make "
    "(what you said or did, for which task, in which situation, and its outcome), then "
    "search past interventions in similar situations to find what worked for this user."
)


class PrincipalToken(AccessToken):
    """An access token that carries the :class:`~memcore_mcp.settings.Principal` it names."""

    principal: Principal


class TokenMap:
    """A ``TokenVerifier``: a token of ``MEMCORE_MCP__TOKENS`` names its principal."""

    def __init__(self, settings: McpSettings) -> None:
        self._tokens = settings.tokens

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's principal (its user as subject), or ``None`` for an unknown one.

        The client id is the whole principal, so a session opened within one scope is
        refused to a token of another scope of the same user.
        """
        principal = user_for(token, self._tokens)
        if principal is None:
            return None
        return PrincipalToken(
            token=token,
            client_id=principal.model_dump_json(),
            subject=principal.user_id,
            scopes=[],
            principal=principal,
        )


def _token_principal() -> Principal:
    token = get_access_token()
    if not isinstance(token, PrincipalToken):  # the SDK's middleware lets none through
        raise ToolError("not authenticated")
    return token.principal


def _principal_of(settings: McpSettings) -> Callable[[], Principal]:
    if settings.transport == "http":
        return _token_principal
    principal = Principal(  # settings refuse stdio without a user
        user_id=settings.user_id or "", agent_id=settings.agent_id, session_id=settings.session_id
    )
    return lambda: principal


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
    tools = MemoryTools(memory, _principal_of(settings))
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
