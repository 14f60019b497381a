"""memcore as an MCP server: ``memcore mcp``, or :func:`build_server` in your own app.

Each session acts for one user: the server's over stdio, the bearer token's over HTTP.
"""

from memcore_mcp.server import TokenMap, build_server, serve
from memcore_mcp.settings import McpSettings, load_mcp_settings
from memcore_mcp.tools import TOOLS, MemoryTools, ToolSpec

__all__ = [
    "TOOLS",
    "McpSettings",
    "MemoryTools",
    "TokenMap",
    "ToolSpec",
    "build_server",
    "load_mcp_settings",
    "serve",
]
