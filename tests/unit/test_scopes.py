"""Scopes within a user through the service: agent_id and session_id on records,
validated like user ids, filterable, forgotten by scope, never changed by an update.
"""

from __future__ import annotations

import pytest

from memcore import (
    MemoryService,
    NotFoundError,
    Outcome,
    Scope,
    SearchFilter,
    Status,
    ValidationError,
    validate_scope,
)


async def _scoped(memory: MemoryService) -> dict[str, str]:
    """One intervention per (agent, session) and an unscoped one; ids by name."""
    ids = {}
    for agent, session in (("coach", "s1"), ("coach", "s2"), ("planner", "s1"), (None, None)):
        receipt = await memory.record_intervention(
            "u", "Try box breathing", task="breathing", agent_id=agent, session_id=session
        )
        ids[f"{agent}/{session}"] = receipt.records[0].id
    return ids


async def test_searches_scoped_to_one_agent_never_return_another(memory: MemoryService) -> None:
    ids = await _scoped(memory)
    coach = await memory.search_interventions(
        "u", "box breathing", k=10, filters={"agent_id": "coach"}
    )
    assert {hit.record.id for hit in coach} == {ids["coach/s1"], ids["coach/s2"]}
    s1 = await memory.list("u", filters={"session_id": "s1"})
    assert {record.id for record in s1.items} == {ids["coach/s1"], ids["planner/s1"]}
    worked = await memory.what_worked("u", "box breathing", agent_id="planner", session_id="s1")
    assert [hit.record.id for hit in worked.hits] == [ids["planner/s1"]]
    unscoped = await memory.get("u", ids["None/None"])
    assert (unscoped.agent_id, unscoped.session_id) == (None, None)


async def test_reflections_take_scopes_too(memory: MemoryService) -> None:
    receipt = await memory.record_reflection("u", "Mornings work", agent_id="coach")
    assert receipt.records[0].agent_id == "coach"
    found = await memory.search_reflections("u", "mornings", filters={"agent_id": "coach"})
    assert [hit.record.id for hit in found] == [receipt.records[0].id]


@pytest.mark.parametrize("bad", ["", " a", "a*", "x" * 129, "a\x00b", 7])
async def test_scope_ids_are_validated_like_user_ids(memory: MemoryService, bad: object) -> None:
    with pytest.raises(ValidationError) as raised:
        await memory.record_intervention("u", "text", task="t", agent_id=bad)  # type: ignore[arg-type]
    assert raised.value.field == "agent_id"
    with pytest.raises(ValidationError):
        await memory.record_reflection("u", "text", session_id=bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        await memory.search_interventions("u", "x", filters={"session_id": bad})
    assert (await memory.stats("u")).interventions == 0


async def test_forget_deletes_one_scope_and_nothing_else(memory: MemoryService) -> None:
    ids = await _scoped(memory)
    removed = await memory.forget("u", agent_id="coach")
    assert (removed, removed.status) == (2, Status.STORED)
    left = {record.id for record in (await memory.list("u")).items}
    assert left == {ids["planner/s1"], ids["None/None"]}
    assert await memory.forget("u", session_id="s1", agent_id="nobody") == 0
    assert await memory.forget("u", session_id="s1") == 1
    assert {record.id for record in (await memory.list("u")).items} == {ids["None/None"]}


async def test_forget_needs_a_scope(memory: MemoryService) -> None:
    with pytest.raises(ValidationError):
        await memory.forget("u")
    with pytest.raises(ValidationError):
        await memory.forget("u", agent_id="a?")


async def test_forget_pages_through_more_than_a_batch(memory: MemoryService) -> None:
    items = [{"intervention_text": f"t{n}", "task": "t", "agent_id": "bulk"} for n in range(1_100)]
    await memory.record_interventions("u", items[:600])
    await memory.record_interventions("u", items[600:])
    assert await memory.forget("u", agent_id="bulk") == 1_100
    assert (await memory.stats("u")).interventions == 0


async def test_an_update_never_moves_a_record_to_another_scope(memory: MemoryService) -> None:
    record = (
        await memory.record_intervention("u", "text", task="t", agent_id="coach", session_id="s1")
    ).records[0]
    with pytest.raises(NotFoundError):  # a scope given to update is a condition
        await memory.update("u", record.id, task="walk", agent_id="planner")
    updated = await memory.update("u", record.id, outcome=Outcome.TASK_COMPLETED, task="walk")
    assert (updated.agent_id, updated.session_id) == ("coach", "s1")


@pytest.mark.parametrize("changes", [{"outcome": "task_completed"}, {"text": "walk"}])
async def test_an_update_scoped_to_one_agent_never_changes_another(
    memory: MemoryService, changes: dict[str, str]
) -> None:
    """Both update paths (one atomic call; read, embed, guarded write) check the scope."""
    ids = await _scoped(memory)
    before = await memory.get_many("u", list(ids.values()))
    for name, scope in (
        ("planner/s1", {"agent_id": "coach"}),
        ("coach/s1", {"agent_id": "coach", "session_id": "s2"}),
        ("None/None", {"session_id": "s1"}),
    ):
        with pytest.raises(NotFoundError):
            await memory.update("u", ids[name], **changes, **scope)
    assert await memory.get_many("u", list(ids.values())) == before
    done = await memory.update("u", ids["coach/s2"], **changes, agent_id="coach", session_id="s2")
    assert done.id == ids["coach/s2"]
    outcome = await memory.update_outcome(
        "u", ids["planner/s1"], "user_engaged", agent_id="planner"
    )
    assert outcome.outcome is Outcome.USER_ENGAGED


async def test_a_hostile_scope_of_an_update_is_refused_before_the_store(
    memory: MemoryService,
) -> None:
    ids = await _scoped(memory)
    for bad in ("*", "a?", " s", "", "x" * 300):
        for scope in ({"agent_id": bad}, {"session_id": bad}):
            with pytest.raises(ValidationError) as refused:
                await memory.update_outcome("u", ids["coach/s1"], "task_completed", **scope)
            assert refused.value.field in scope
    [record] = await memory.get_many("u", [ids["coach/s1"]])
    assert record.outcome is Outcome.UNKNOWN


async def test_a_bound_scope_narrows_filters_and_refuses_updates_outside_it(
    memory: MemoryService,
) -> None:
    ids = await _scoped(memory)
    coach = Scope(agent_id="coach")
    assert coach.narrow({"agent_ids": ["coach", "planner"], "task": "t"}) == {
        "task": "t",
        "agent_id": "coach",
    }
    widened = coach.narrow(SearchFilter(agent_id="planner", session_id="s1"))
    hits = await memory.search_interventions("u", "box breathing", k=10, filters=widened)
    assert [hit.record.id for hit in hits] == [ids["coach/s1"]]
    with pytest.raises(NotFoundError):
        await coach.update_outcome(memory, "u", ids["planner/s1"], Outcome.TASK_COMPLETED)
    [untouched] = await memory.get_many("u", [ids["planner/s1"]])
    assert untouched.outcome is Outcome.UNKNOWN
    done = await coach.update_outcome(memory, "u", ids["coach/s2"], Outcome.TASK_COMPLETED)
    assert done.outcome is Outcome.TASK_COMPLETED
    assert await coach.forget(memory, "u") == 2
    assert await Scope().forget(memory, "u") == 2  # unbound: the rest of the user


def test_the_scope_rule_is_the_user_id_rule_naming_the_field() -> None:
    assert validate_scope("cafe\u0301", None) == ("caf\u00e9", None)
    for agent, session, field in (("*", None, "agent_id"), (None, " s", "session_id")):
        with pytest.raises(ValidationError) as bad:
            Scope(agent, session)
        assert bad.value.field == field
