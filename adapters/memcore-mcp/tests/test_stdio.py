"""``memcore mcp`` over real stdio, driven by the SDK's client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import MEMCORE, error_text, server_env, stdio, structured

BREATHING = {
    "text": "Two minutes of box breathing.",
    "task": "calm_down",
    "context": "anxious before an interview",
    "outcome": "task_completed",
}


async def test_every_tool_has_a_described_schema(tmp_path: Path) -> None:
    async with stdio(tmp_path, "--user", "alice") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == {
        "record_intervention",
        "search_interventions",
        "update_outcome",
        "what_worked",
        "record_reflection",
        "search_reflections",
    }
    for tool in tools.values():
        assert tool.description
        assert "user" not in tool.input_schema["properties"]
        assert "user_id" not in tool.input_schema["properties"]
        for name, schema in tool.input_schema["properties"].items():
            assert schema.get("description"), (tool.name, name)
        assert tool.output_schema is not None
        assert "$ref" not in json.dumps(tool.output_schema)  # flat: clients check each result
    assert tools["search_interventions"].annotations.read_only_hint is True
    assert tools["record_intervention"].input_schema["required"] == ["text", "task"]
    assert tools["update_outcome"].input_schema["required"] == ["record_id", "outcome"]
    assert tools["what_worked"].input_schema["required"] == ["situation"]


async def test_record_then_find_what_worked(tmp_path: Path) -> None:
    async with stdio(tmp_path, "--user", "alice") as client:
        kept = structured(await client.call_tool("record_intervention", BREATHING))
        assert kept["status"] == "stored"
        other = {**BREATHING, "text": "List five things.", "outcome": "user_resisted"}
        structured(await client.call_tool("record_intervention", other))
        found = structured(
            await client.call_tool(
                "search_interventions",
                {"situation": "nervous before a meeting", "outcome": "task_completed"},
            )
        )
        assert found["status"] == "complete"
        assert [hit["id"] for hit in found["hits"]] == [kept["id"]]
        assert found["hits"][0]["task"] == "calm_down"
        reflection = structured(
            await client.call_tool(
                "record_reflection", {"text": "Breathing works.", "source_ids": [kept["id"]]}
            )
        )
        hits = structured(await client.call_tool("search_reflections", {"query": "breathing"}))
        assert [hit["id"] for hit in hits["hits"]] == [reflection["id"]]
        assert hits["hits"][0]["source_ids"] == [kept["id"]]


async def test_an_outcome_learned_later_changes_what_worked(tmp_path: Path) -> None:
    async with stdio(tmp_path, "--user", "alice") as client:
        pending = {**BREATHING, "outcome": "unknown"}
        kept = structured(await client.call_tool("record_intervention", pending))
        resisted = {**BREATHING, "text": "List five things.", "outcome": "user_resisted"}
        structured(await client.call_tool("record_intervention", resisted))
        situation = {"situation": "nervous before a meeting", "task": "calm_down"}
        before = structured(await client.call_tool("what_worked", situation))
        [pending_hit] = [hit for hit in before["hits"] if hit["id"] == kept["id"]]
        assert pending_hit["outcome_weight"] == 0.3  # unknown, by default
        changed = {"record_id": kept["id"], "outcome": "task_completed"}
        updated = structured(await client.call_tool("update_outcome", changed))
        assert updated["outcome"] == "task_completed"
        assert updated["updated_at"] is not None
        after = structured(await client.call_tool("what_worked", situation))
        best = after["hits"][0]
        assert (best["id"], best["outcome"], best["outcome_weight"]) == (
            kept["id"],
            "task_completed",
            1.0,
        )
        assert best["score"] == best["similarity"] > pending_hit["score"]
        assert after["rates"] == [
            {"task": "calm_down", "summary": "calm_down: 1 of 2 completed", "completed": 1,
             "total": 2, "by_outcome": {"task_completed": 1, "user_resisted": 1}},
        ]  # fmt: skip
        missing = {"record_id": "0" * 32, "outcome": "task_completed"}
        assert "NotFoundError" in error_text(await client.call_tool("update_outcome", missing))


async def test_a_user_sees_only_their_own_memories(tmp_path: Path) -> None:
    shared = {"MEMCORE_MEMORY__SNAPSHOT_PATH": str(tmp_path / "memories.json")}
    async with stdio(tmp_path, "--user", "alice", **shared) as alice:
        structured(await alice.call_tool("record_intervention", BREATHING))
    async with stdio(tmp_path, "--user", "bob", **shared) as bob:
        found = structured(await bob.call_tool("search_interventions", {"situation": "anxious"}))
        assert found["hits"] == []
        sneaky = await bob.call_tool("search_interventions", {"situation": "x", "user_id": "alice"})
        assert sneaky.is_error or structured(sneaky)["hits"] == []
        assert (
            structured(await bob.call_tool("what_worked", {"situation": "anxious"}))["hits"] == []
        )
    async with stdio(tmp_path, **shared, MEMCORE_MCP__USER_ID="alice") as alice:
        found = structured(await alice.call_tool("search_interventions", {"situation": "anxious"}))
        assert len(found["hits"]) == 1


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("record_intervention", {"task": "t"}, "text"),
    ("record_intervention", {"text": "x", "task": 7}, "task"),
    ("record_intervention", {"text": "x", "task": "t", "outcome": "great"}, "outcome"),
    ("record_intervention", {"text": "", "task": "t"}, "text"),
    ("record_intervention", {"text": "x" * 8_001, "task": "t"}, "text"),
    ("record_intervention", {"text": "x", "task": "t", "metadata": {"a b": 1}}, "metadata"),
    ("record_intervention", {"text": "x", "task": "t", "metadata": {"a": [1]}}, "metadata"),
    ("search_interventions", {"situation": "x", "k": 0}, "k"),
    ("search_interventions", {"situation": "x", "k": "many"}, "k"),
    ("record_reflection", {"text": "x", "source_ids": ["../etc"]}, "source_ids"),
    ("update_outcome", {"record_id": "../etc", "outcome": "task_completed"}, "record_id"),
    ("update_outcome", {"record_id": "0" * 32, "outcome": "great"}, "outcome"),
    ("update_outcome", {"outcome": "task_completed"}, "record_id"),
    ("what_worked", {"situation": ""}, "situation"),
    ("what_worked", {"situation": "x", "k": 0}, "k"),
    ("no_such_tool", {}, "no_such_tool"),
]


async def test_bad_arguments_are_tool_errors_and_store_nothing(tmp_path: Path) -> None:
    async with stdio(tmp_path, "--user", "alice") as client:
        for tool, arguments, message in BAD_CALLS:
            result = await client.call_tool(tool, arguments)
            assert message in error_text(result), (tool, arguments)
        found = await client.call_tool("search_interventions", {"situation": "x"})
        assert structured(found)["hits"] == []


async def test_forget_me_is_offered_only_when_allowed_and_confirmed(tmp_path: Path) -> None:
    async with stdio(tmp_path, "--user", "alice", MEMCORE_MCP__ALLOW_FORGET="true") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["forget_me"].annotations.destructive_hint is True
        structured(await client.call_tool("record_intervention", BREATHING))
        refused = await client.call_tool("forget_me", {"confirm": False})
        assert "confirm" in error_text(refused)
        assert structured(await client.call_tool("forget_me", {"confirm": True})) == {"deleted": 1}
        found = await client.call_tool("search_interventions", {"situation": "anxious"})
        assert structured(found)["hits"] == []


@pytest.mark.parametrize(
    ("args", "settings", "message"),
    [
        ((), {}, "MEMCORE_MCP__USER_ID"),
        (("--user", "*"), {}, "wildcards"),
        (("--user", "alice"), {"MEMCORE_MCP__SESSION_ID": " s1"}, "session_id"),
        (("--transport", "http"), {"MEMCORE_MCP__TOKENS": '{"0123456789abcdef": {}}'}, "user_id"),
        (("--transport", "http"), {}, "MEMCORE_MCP__TOKENS"),
        (("--transport", "http"), {"MEMCORE_MCP__TOKENS": '{"short": "alice"}'}, "16"),
        (("--transport", "carrier-pigeon", "--user", "alice"), {}, "MEMCORE_MCP__TRANSPORT"),
        (("--user", "alice"), {"MEMCORE_MCP__ALLOW_FOGET": "true"}, "MEMCORE_MCP__ALLOW_FORGET"),
    ],
)
def test_the_server_refuses_to_start_without_a_user_scope(
    tmp_path: Path, args: tuple[str, ...], settings: dict[str, str], message: str
) -> None:
    done = subprocess.run(  # noqa: S603 - our own command
        [sys.executable, *MEMCORE, "mcp", *args],
        env=server_env(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert "0123456789abcdef" not in done.stderr  # a bad token's holder never shows the token
