from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, ToolMessage

import memcore
from conftest import load_example

agent = load_example("langgraph_agent")


async def test_the_agent_records_updates_the_outcome_and_asks_what_worked(
    memory: memcore.MemoryService, user_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    neighbour = f"{user_id}-neighbour"  # whose memories the agent must never see
    await memory.record_intervention(
        neighbour, "Rehearse the first sentence aloud.", task="calm_down",
        context="nervous before presenting to the team", outcome="task_completed",
    )  # fmt: skip

    transcript = await agent.converse(memory, user_id)

    tools = [m for m in transcript if isinstance(m, ToolMessage)]
    assert [m.name for m in tools] == [
        "what_worked", "record_intervention", "update_outcome", "what_worked",
    ]  # fmt: skip
    asked, recorded, updated, worked = tools
    assert asked.text == "No past interventions found."  # not the neighbour's
    assert all(m.status == "success" for m in tools)
    [hit] = await memory.search_interventions(user_id, "nervous", k=5)
    record = hit.record
    assert (record.id, record.intervention_text) == (recorded.artifact.id, agent.BREATHING)
    assert record.context == agent.CONVERSATIONS[0][1]
    assert record.outcome is memcore.Outcome.TASK_COMPLETED  # set by the second conversation
    assert [change.outcome for change in record.outcome_history] == [record.outcome]
    assert updated.text == f"Outcome of intervention {record.id} set to task_completed."
    assert [doc.id for doc in worked.artifact] == [record.id]
    answers = [m.text for m in transcript if isinstance(m, AIMessage) and not m.tool_calls]
    assert answers[-1] == (
        f"This worked for you before: {agent.BREATHING} (calm_down: 1 of 1 completed). "
        "Shall we do it again?"
    )
    assert capsys.readouterr().out.count("agent: ") == 3
