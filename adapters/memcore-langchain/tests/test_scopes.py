"""Tools, retriever and vector store bound to an agent and/or session of one user: each
sees and changes only its own scope, never another agent's memories of the same user.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

import memcore
from conftest import USER
from memcore_langchain import MemcoreRetriever, MemcoreVectorStore, memory_tools

COACH = {"agent_id": "coach", "session_id": "s1"}
PLANNER = {"agent_id": "planner", "session_id": "s1"}


def _tools(memory: memcore.MemoryService, scope: dict[str, str]) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in memory_tools(memory, USER, **scope)}


async def _call(tool: BaseTool, **arguments: Any) -> ToolMessage:
    call = {"type": "tool_call", "id": "call-1", "name": tool.name, "args": arguments}
    message = await tool.ainvoke(call)
    assert isinstance(message, ToolMessage)
    return message


async def _remember(tools: dict[str, BaseTool], text: str) -> str:
    await _call(tools["record_reflection"], text=f"{text} helps.")
    stored = await _call(
        tools["record_intervention"], intervention_text=text, task="calm_down", context="anxious"
    )
    return str(stored.artifact.id)


async def test_tools_of_one_agent_never_see_another_agents_memories(
    memory: memcore.MemoryService,
) -> None:
    coach, planner = _tools(memory, COACH), _tools(memory, PLANNER)
    coachs = await _remember(coach, "Box breathing.")
    planners = await _remember(planner, "A short walk.")
    for tools, mine, theirs in ((coach, coachs, planners), (planner, planners, coachs)):
        found = await _call(tools["search_interventions"], query="anxious", task="calm_down")
        assert [document.id for document in found.artifact] == [mine]
        worked = await _call(tools["what_worked"], situation="anxious")
        assert [document.id for document in worked.artifact] == [mine]
        reflections = await _call(tools["search_reflections"], query="helps")
        assert len(reflections.artifact) == 1
        refused = await _call(tools["update_outcome"], record_id=theirs, outcome="user_resisted")
        assert refused.status == "error"
        assert refused.content.startswith("Not found: no intervention ")
        done = await _call(tools["update_outcome"], record_id=mine, outcome="task_completed")
        assert done.status == "success"
    stored = await memory.get_many(USER, [coachs, planners])
    assert [(r.agent_id, r.session_id) for r in stored] == [("coach", "s1"), ("planner", "s1")]
    whole = await memory.search_interventions(USER, "anxious")
    assert {hit.record.id for hit in whole} == {coachs, planners}  # the user sees both


async def test_a_bound_retriever_keeps_to_its_scope_whatever_the_filters(
    memory: memcore.MemoryService,
) -> None:
    coachs = await _remember(_tools(memory, COACH), "Box breathing.")
    await _remember(_tools(memory, PLANNER), "A short walk.")
    retriever = MemcoreRetriever(service=memory, user_id=USER, agent_id="coach")
    assert [d.id for d in await retriever.ainvoke("anxious")] == [coachs]
    widened = await retriever.ainvoke("anxious", filters={"agent_ids": ["coach", "planner"]})
    assert [d.id for d in widened] == [coachs]
    other = await retriever.ainvoke("anxious", filters=memcore.SearchFilter(agent_id="planner"))
    assert [d.id for d in other] == [coachs]


async def test_a_bound_vector_store_reads_and_deletes_only_its_scope(
    memory: memcore.MemoryService,
) -> None:
    coach = MemcoreVectorStore(memory, USER, task="notes", session_id="s1")
    planner = MemcoreVectorStore(memory, USER, task="notes", session_id="s2")
    [coachs] = await coach.aadd_documents([Document("Box breathing.")])
    [planners] = await planner.aadd_documents([Document("A short walk.")])
    assert [d.id for d in await coach.asimilarity_search("breathing walk", k=5)] == [coachs]
    assert await coach.aget_by_ids([coachs, planners]) == await coach.aget_by_ids([coachs])
    await coach.adelete([planners])
    assert [d.id for d in await planner.aget_by_ids([planners])] == [planners]  # untouched
    [record] = await memory.get_many(USER, [coachs])
    assert record.session_id == "s1"


async def test_a_bad_scope_is_a_typed_error(memory: memcore.MemoryService) -> None:
    with pytest.raises(memcore.ValidationError) as bad:
        memory_tools(memory, USER, agent_id="coach*")
    assert bad.value.field == "agent_id"
    with pytest.raises(memcore.ValidationError) as bad:
        MemcoreVectorStore(memory, USER, task="notes", session_id=" s1")
    assert bad.value.field == "session_id"
    with pytest.raises(memcore.ValidationError) as bad:
        await MemcoreRetriever(service=memory, user_id=USER, session_id="").ainvoke("x")
    assert bad.value.field == "session_id"
