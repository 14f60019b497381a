from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

import memcore
from conftest import NEIGHBOUR, USER
from memcore_langchain import memory_tools

NAMES = [
    "record_intervention",
    "search_interventions",
    "update_outcome",
    "what_worked",
    "record_reflection",
    "search_reflections",
]


def _by_name(service: memcore.MemoryService, user_id: str = USER) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in memory_tools(service, user_id)}


async def _call(tool: BaseTool, **arguments: Any) -> ToolMessage:
    call = {"type": "tool_call", "id": "call-1", "name": tool.name, "args": arguments}
    message = await tool.ainvoke(call)
    assert isinstance(message, ToolMessage)
    return message


def test_every_argument_is_described_and_none_is_a_user(memory: memcore.MemoryService) -> None:
    tools = memory_tools(memory, USER)
    assert [tool.name for tool in tools] == NAMES
    for tool in tools:
        assert len(tool.description) > 40
        schema = tool.tool_call_schema.model_json_schema()  # what the model is shown
        assert "user_id" not in schema["properties"]
        for name, spec in schema["properties"].items():
            assert spec.get("description"), f"{tool.name}.{name} has no description"


async def test_record_then_search_interventions(memory: memcore.MemoryService) -> None:
    tools = _by_name(memory)
    stored = await _call(
        tools["record_intervention"],
        intervention_text="Try two minutes of box breathing.",
        task="calm_down",
        context="anxious before an interview",
        outcome="task_completed",
    )
    assert stored.status == "success"
    record_id = stored.artifact.id
    assert stored.content == f"Stored intervention {record_id}."
    record = await memory.get(USER, record_id)
    assert isinstance(record, memcore.Intervention)
    assert (record.task, record.outcome) == ("calm_down", memcore.Outcome.TASK_COMPLETED)

    found = await _call(
        tools["search_interventions"],
        query="nervous before a meeting",
        outcomes=["task_completed"],
        task="calm_down",
    )
    assert found.status == "success"
    assert [doc.id for doc in found.artifact] == [record_id]
    assert found.content.startswith("Interventions found, most similar first: [")
    assert "Try two minutes of box breathing." in found.content
    assert "task_completed" in found.content
    missed = await _call(tools["search_interventions"], query="box breathing", task="sleep")
    assert (missed.content, missed.artifact) == ("No interventions found.", [])


async def test_an_outcome_known_later_then_what_worked(memory: memcore.MemoryService) -> None:
    tools = _by_name(memory)
    breathing = await _call(
        tools["record_intervention"],
        intervention_text="Try two minutes of box breathing.",
        task="calm_down",
        context="anxious before an interview",
    )
    await _call(
        tools["record_intervention"],
        intervention_text="List five things you can see.",
        task="calm_down",
        outcome="user_resisted",
    )
    record_id = breathing.artifact.id
    updated = await _call(tools["update_outcome"], record_id=record_id, outcome="task_completed")
    assert updated.content == f"Outcome of intervention {record_id} set to task_completed."
    assert updated.artifact.metadata["outcome"] == "task_completed"
    stored = await memory.get(USER, record_id)
    assert isinstance(stored, memcore.Intervention)
    assert stored.outcome is memcore.Outcome.TASK_COMPLETED

    worked = await _call(tools["what_worked"], situation="nervous before a meeting")
    best = worked.artifact[0]
    assert best.id == record_id
    assert best.metadata["outcome_weight"] == 1.0
    assert best.metadata["score"] == best.metadata["similarity"]
    assert worked.content.startswith("What worked for this user, best first: [")
    assert worked.content.endswith(" Outcomes per task: calm_down: 1 of 2 completed.")
    nothing = await _call(tools["what_worked"], situation="x", task="sleep")
    assert (nothing.content, nothing.artifact) == ("No past interventions found.", [])


async def test_another_users_intervention_is_not_found(memory: memcore.MemoryService) -> None:
    theirs = await _call(
        _by_name(memory, NEIGHBOUR)["record_intervention"], intervention_text="x", task="t"
    )
    mine = _by_name(memory)
    refused = await _call(
        mine["update_outcome"], record_id=theirs.artifact.id, outcome="user_resisted"
    )
    assert refused.status == "error"
    assert refused.content.startswith("Not found: no intervention ")
    record = await memory.get(NEIGHBOUR, theirs.artifact.id)
    assert isinstance(record, memcore.Intervention)
    assert record.outcome is memcore.Outcome.UNKNOWN
    assert (await _call(mine["what_worked"], situation="x")).artifact == []


async def test_record_then_search_reflections(memory: memcore.MemoryService) -> None:
    tools = _by_name(memory)
    stored = await _call(
        tools["record_reflection"],
        text="Breathing exercises help before interviews.",
        source_ids=["abc"],
    )
    found = await _call(tools["search_reflections"], query="breathing", k=3)
    [document] = found.artifact
    assert document.id == stored.artifact.id
    assert document.metadata["source_ids"] == ["abc"]


def test_sync_invocation(memory: memcore.MemoryService) -> None:
    tools = _by_name(memory)
    tools["record_reflection"].invoke({"text": "Likes short answers."})
    assert "Likes short answers." in tools["search_reflections"].invoke({"query": "answers"})


async def test_the_user_comes_from_the_binding_never_from_the_model(
    memory: memcore.MemoryService,
) -> None:
    theirs = _by_name(memory, NEIGHBOUR)
    await _call(theirs["record_reflection"], text="A secret of the neighbour.")
    mine = _by_name(memory)
    refused = await _call(mine["search_reflections"], query="secret", user_id=NEIGHBOUR)
    assert refused.status == "error"
    assert "user_id: Extra inputs are not permitted" in refused.content
    found = await _call(mine["search_reflections"], query="secret of the neighbour")
    assert found.artifact == []


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        (
            "record_intervention",
            {"intervention_text": "Breathe.", "task": "  "},
            "Invalid input: task: must not be empty or blank. Correct it and call the tool again.",
        ),
        (
            "record_intervention",
            {"intervention_text": "Breathe.", "task": "t", "outcome": "great"},
            "Invalid arguments: outcome: Input should be ",
        ),
        ("search_interventions", {"query": "x", "k": 50}, "Invalid arguments: k: "),
        ("record_reflection", {"text": "x", "source_ids": ["a b"]}, "Invalid input: source_ids[0]"),
        (
            "update_outcome",
            {"record_id": "../etc", "outcome": "task_completed"},
            "Invalid input: record_id: ",
        ),
        ("update_outcome", {"record_id": "a" * 32}, "Invalid arguments: outcome: Field required"),
        ("what_worked", {"situation": " "}, "Invalid input: situation: "),
        ("what_worked", {"situation": "x", "k": 50}, "Invalid arguments: k: "),
    ],
)
async def test_bad_arguments_come_back_as_tool_errors(
    memory: memcore.MemoryService, tool: str, arguments: dict[str, Any], message: str
) -> None:
    result = await _call(_by_name(memory)[tool], **arguments)
    assert result.status == "error"
    assert result.content.startswith(message)


class _Down:
    """A store that is not there: every call fails as a memcore store error."""

    backend = "down"

    def __init__(self, error: memcore.MemcoreError) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        async def fail(*_: object) -> None:
            raise self.error

        return fail


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            memcore.StoreUnavailableError("connection refused"),
            "Memory is unavailable right now (connection refused). Go on without it.",
        ),
        (
            memcore.RateLimitedError("too many calls", retry_after=2.0),
            "Memory is unavailable right now (too many calls; retry after 2.000s).",
        ),
        (memcore.DataLossError("acknowledged writes lost"), "Memory failed: acknowledged writes"),
    ],
)
async def test_a_failing_store_comes_back_as_a_tool_error(
    memory: memcore.MemoryService, error: memcore.MemcoreError, message: str
) -> None:
    broken = memcore.MemoryService(_Down(error), memory.embedder)
    for tool in memory_tools(broken, USER):
        arguments = {
            "query": "x",
            "text": "x",
            "intervention_text": "x",
            "task": "t",
            "situation": "x",
            "record_id": "a" * 32,
            "outcome": "task_completed",
        }
        schema_fields = tool.tool_call_schema.model_json_schema()["properties"]
        result = await _call(tool, **{k: v for k, v in arguments.items() if k in schema_fields})
        assert result.status == "error"
        assert result.content.startswith(message)


class _EmbedderAway:
    dimension = 8
    model = "away"
    backend = "away"

    async def embed(self, texts: Any) -> np.ndarray:
        raise memcore.EmbeddingUnavailableError("embedder timed out")


async def test_a_degraded_search_says_so(memory: memcore.MemoryService) -> None:
    degraded = memcore.MemoryService(memory.store, _EmbedderAway(), degrade_searches=True)  # type: ignore[arg-type]
    result = await _call(_by_name(degraded)["search_interventions"], query="anything")
    assert (
        result.content
        == "No interventions found. Memory is degraded right now: some may be missing."
    )
