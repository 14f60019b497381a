from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, ToolMessage

import memcore
from conftest import load_example

agent = load_example("langgraph_agent")


async def test_the_agent_records_what_worked_and_suggests_it_again(
    memory: memcore.MemoryService, user_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    neighbour = f"{user_id}-neighbour"  # whose memories the agent must never see
    await memory.record_intervention(
        neighbour, "Rehearse the first sentence aloud.", task="calm_down",
        context="nervous before presenting to the team", outcome="task_completed",
    )  # fmt: skip

    transcript = await agent.converse(memory, user_id)

    looked_up, recorded, found = [m for m in transcript if isinstance(m, ToolMessage)]
    assert looked_up.text == "No interventions found."
    assert recorded.status == "success"
    [hit] = await memory.search_interventions(user_id, "nervous", k=5)
    assert (hit.record.id, hit.record.intervention_text) == (recorded.artifact.id, agent.BREATHING)
    assert hit.record.outcome is memcore.Outcome.TASK_COMPLETED
    assert hit.record.context == agent.CONVERSATIONS[0][1]  # read back from the thread
    assert [doc.id for doc in found.artifact] == [hit.record.id]
    answers = [m.text for m in transcript if isinstance(m, AIMessage) and not m.tool_calls]
    assert answers[-1] == f"Last time this worked for you: {agent.BREATHING} Shall we do it again?"
    assert capsys.readouterr().out.count("agent: ") == 3
