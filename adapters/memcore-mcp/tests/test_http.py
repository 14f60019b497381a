"""``memcore mcp --transport http``: a real server process, the SDK's client, bearer tokens."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from mcp import MCPError

from conftest import HttpServer, error_text, structured, token_of
from test_stdio import BREATHING


async def test_a_token_for_one_user_never_reads_another(http_server: HttpServer) -> None:
    async with http_server.client(token_of("alice")) as alice:
        kept = structured(await alice.call_tool("record_intervention", BREATHING))
    async with http_server.client(token_of("bob")) as bob:
        found = structured(await bob.call_tool("search_interventions", {"situation": "anxious"}))
        assert found["hits"] == []
        result = await bob.call_tool("search_interventions", {"situation": "x", "user": "alice"})
        assert result.is_error or structured(result)["hits"] == []
        assert (
            structured(await bob.call_tool("what_worked", {"situation": "anxious"}))["hits"] == []
        )
        change = {"record_id": kept["id"], "outcome": "user_resisted"}
        assert "NotFoundError" in error_text(await bob.call_tool("update_outcome", change))
    async with http_server.client(token_of("alice")) as alice:
        found = structured(await alice.call_tool("search_interventions", {"situation": "anxious"}))
        assert [hit["id"] for hit in found["hits"]] == [kept["id"]]
        assert found["hits"][0]["outcome"] == BREATHING["outcome"]  # bob changed nothing


async def test_bad_arguments_over_http_are_tool_errors(http_server: HttpServer) -> None:
    async with http_server.client(token_of("alice")) as alice:
        result = await alice.call_tool("record_intervention", {"text": "x", "task": ""})
        assert "task" in error_text(result)


@pytest.mark.parametrize("token", [None, "not-a-token-of-anyone", token_of("mallory")])
async def test_a_missing_or_unknown_token_is_refused(
    http_server: HttpServer, token: str | None
) -> None:
    headers = {"Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response = httpx2.post(
        http_server.url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers=headers,
    )
    assert response.status_code == 401
    with pytest.raises(Exception) as refused:  # noqa: PT011 - the SDK's task group wraps it
        async with http_server.client(token) as client:
            await client.list_tools()
    assert refused.group_contains(MCPError)


async def test_another_users_token_cannot_take_over_a_session(http_server: HttpServer) -> None:
    def post(token: str, body: dict[str, Any], session: str | None = None) -> httpx2.Response:
        headers = {"Accept": "application/json, text/event-stream"}
        headers["Authorization"] = f"Bearer {token}"
        if session is not None:
            headers["Mcp-Session-Id"] = session
        return httpx2.post(http_server.url, json={"jsonrpc": "2.0", **body}, headers=headers)

    hello = {"protocolVersion": "2025-06-18", "capabilities": {},
             "clientInfo": {"name": "t", "version": "1"}}  # fmt: skip
    opened = post(token_of("alice"), {"id": 1, "method": "initialize", "params": hello})
    assert opened.status_code == 200, opened.text
    session = opened.headers["mcp-session-id"]
    search = {"name": "search_interventions", "arguments": {"situation": "anxious"}}
    taken = post(token_of("bob"), {"id": 2, "method": "tools/call", "params": search}, session)
    assert taken.status_code == 404  # as if alice's session did not exist
