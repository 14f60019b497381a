"""A LangGraph agent (langchain's create_agent) uses the memory tools.

The chat model is scripted (no network): it records an intervention, then searches
for what worked, then answers. The test checks what was stored and what was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import Runnable

import memcore
from conftest import NEIGHBOUR, USER
from memcore_langchain import memory_tools


class _ScriptedModel(GenericFakeChatModel):
    """Answers with the next scripted message, whatever it is asked."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, Any]:
        return self


def _script() -> list[AIMessage]:
    record = {
        "name": "record_intervention",
        "id": "call-record",
        "args": {
            "intervention_text": "Try two minutes of box breathing.",
            "task": "calm_down",
            "context": "anxious before a job interview",
            "outcome": "task_completed",
        },
    }
    search = {
        "name": "search_interventions",
        "id": "call-search",
        "args": {"query": "nervous before an important meeting", "outcomes": ["task_completed"]},
    }
    return [
        AIMessage(content="", tool_calls=[record]),
        AIMessage(content="", tool_calls=[search]),
        AIMessage(content="Box breathing worked for you before; shall we try it?"),
    ]


async def test_an_agent_records_and_finds_what_worked(memory: memcore.MemoryService) -> None:
    await memory.record_intervention(NEIGHBOUR, "Try box breathing.", task="calm_down")
    agent = create_agent(_ScriptedModel(messages=iter(_script())), memory_tools(memory, USER))

    state = await agent.ainvoke({"messages": [HumanMessage("I'm nervous about my meeting.")]})

    tool_messages = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    stored, found = tool_messages
    assert stored.status == "success"
    [record] = await memory.search_interventions(USER, "box breathing", k=5)
    assert (record.record.id, record.record.task, record.record.outcome) == (
        stored.artifact.id,
        "calm_down",
        memcore.Outcome.TASK_COMPLETED,
    )
    assert [doc.id for doc in found.artifact] == [stored.artifact.id]  # not the neighbour's
    assert "Try two minutes of box breathing." in found.content
    assert state["messages"][-1].content.startswith("Box breathing worked")


def test_a_sync_agent_uses_the_sync_tools(memory: memcore.MemoryService) -> None:
    agent = create_agent(_ScriptedModel(messages=iter(_script())), memory_tools(memory, USER))
    state = agent.invoke({"messages": [HumanMessage("I'm nervous about my meeting.")]})
    found = [m for m in state["messages"] if isinstance(m, ToolMessage)][-1]
    assert [doc.page_content for doc in found.artifact] == ["Try two minutes of box breathing."]
