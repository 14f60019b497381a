"""A server bound to an agent and/or session of a user: stdio by its settings, http by
each token's. One agent's session never sees another agent's memories of the same user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp import Client

from conftest import error_text, running_http_server, stdio, structured, token_of
from test_stdio import BREATHING

WALK = {**BREATHING, "text": "A short walk outside.", "context": "anxious at home"}
REFLECTION = {"text": "Breathing helps before interviews."}


async def _remember(client: Client, intervention: dict[str, Any]) -> str:
    structured(await client.call_tool("record_reflection", REFLECTION))
    return str(structured(await client.call_tool("record_intervention", intervention))["id"])


async def _sees_only(client: Client, mine: str, theirs: str) -> None:
    """``client`` finds its record ``mine``, never ``theirs``, nor can it change it."""
    found = structured(await client.call_tool("search_interventions", {"situation": "anxious"}))
    assert [hit["id"] for hit in found["hits"]] == [mine]
    worked = structured(await client.call_tool("what_worked", {"situation": "anxious"}))
    assert [hit["id"] for hit in worked["hits"]] == [mine]
    reflections = structured(await client.call_tool("search_reflections", {"query": "calls"}))
    assert len(reflections["hits"]) == 1
    change = {"record_id": theirs, "outcome": "user_resisted"}
    assert "NotFoundError" in error_text(await client.call_tool("update_outcome", change))
    change = {"record_id": mine, "outcome": "user_engaged"}
    assert structured(await client.call_tool("update_outcome", change))["outcome"] == "user_engaged"


async def test_a_stdio_server_bound_to_an_agent_session_sees_only_its_memories(
    tmp_path: Path,
) -> None:
    shared = {
        "MEMCORE_MEMORY__SNAPSHOT_PATH": str(tmp_path / "memories.json"),
        "MEMCORE_MCP__USER_ID": "alice",
        "MEMCORE_MCP__ALLOW_FORGET": "true",
    }
    coach = {"MEMCORE_MCP__AGENT_ID": "coach", "MEMCORE_MCP__SESSION_ID": "s1"}
    async with stdio(tmp_path, **shared, **coach) as client:
        coachs = await _remember(client, BREATHING)
    async with stdio(tmp_path, "--agent", "planner", "--session", "s1", **shared) as client:
        planners = await _remember(client, WALK)
        await _sees_only(client, planners, coachs)
    async with stdio(tmp_path, **shared, **coach) as client:
        await _sees_only(client, coachs, planners)
        assert structured(await client.call_tool("forget_me", {"confirm": True})) == {"deleted": 2}
    async with stdio(tmp_path, **shared) as client:  # the whole user: the planner's remain
        found = structured(await client.call_tool("search_interventions", {"situation": "x"}))
        assert [hit["id"] for hit in found["hits"]] == [planners]


async def test_http_tokens_bound_to_agents_of_one_user_stay_apart(tmp_path: Path) -> None:
    tokens = {
        token_of("coach"): {"user_id": "alice", "agent_id": "coach", "session_id": "s1"},
        token_of("planner"): {"user_id": "alice", "agent_id": "planner"},
        token_of("alice"): "alice",
    }
    with running_http_server(tmp_path, tokens) as server:
        async with server.client(token_of("coach")) as coach:
            coachs = await _remember(coach, BREATHING)
        async with server.client(token_of("planner")) as planner:
            planners = await _remember(planner, WALK)
            await _sees_only(planner, planners, coachs)
        async with server.client(token_of("coach")) as coach:
            await _sees_only(coach, coachs, planners)
        async with server.client(token_of("alice")) as alice:
            found = structured(await alice.call_tool("search_interventions", {"situation": "x"}))
            assert {hit["id"] for hit in found["hits"]} == {coachs, planners}
