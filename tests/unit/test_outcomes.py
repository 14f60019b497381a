"""MemoryService.update_outcome, update, what_worked and search min_score, over the
in-memory store: each sentence of their docstrings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from memcore import (
    ConflictError,
    Intervention,
    NotFoundError,
    Outcome,
    Reflection,
    ValidationError,
    WhatWorked,
)
from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.domain import RecordKind, RecordUpdate, utcnow
from memcore.ports import Vectors
from memcore.service import MemoryService
from memcore.settings import WhatWorkedSettings
from memcore.testing import CountingEmbedder


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder(dimension=32)


@pytest.fixture
async def service(embedder: CountingEmbedder) -> AsyncIterator[MemoryService]:
    async with MemoryService(InMemoryStore(), embedder) as service:
        yield service


async def _record(service: MemoryService, **fields: object) -> Intervention:
    values: dict[str, object] = {"task": "breathing", "context": "before a talk", **fields}
    text = str(values.pop("text", "Try box breathing"))
    receipt = await service.record_intervention("u", text, **values)  # type: ignore[arg-type]
    return receipt.records[0]


async def test_update_outcome_of_a_missing_or_foreign_record_raises_not_found(
    service: MemoryService,
) -> None:
    record = await _record(service)
    with pytest.raises(NotFoundError):
        await service.update_outcome("u", "nope", Outcome.TASK_COMPLETED)
    with pytest.raises(NotFoundError):
        await service.update_outcome("v", record.id, Outcome.TASK_COMPLETED)
    reflection = (await service.record_reflection("u", "Mornings work")).records[0]
    with pytest.raises(NotFoundError):
        await service.update_outcome("u", reflection.id, Outcome.TASK_COMPLETED)
    assert await service.get("u", record.id) == record


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"outcome": "great"}, "outcome"),
        ({"task": ""}, "task"),
        ({"metadata": {"bad key": 1}}, "metadata"),
        ({"text": "  "}, "text"),
        ({}, "update"),
    ],
)
async def test_bad_updates_raise_and_change_nothing(
    service: MemoryService, arguments: dict[str, object], field: str
) -> None:
    record = await _record(service)
    with pytest.raises(ValidationError) as raised:
        await service.update("u", record.id, **arguments)  # type: ignore[arg-type]
    assert raised.value.field == field
    assert await service.get("u", record.id) == record


async def test_update_without_embedded_changes_does_not_embed(
    service: MemoryService, embedder: CountingEmbedder
) -> None:
    record = await _record(service, metadata={"lang": "en"})
    embedder.texts.clear()
    updated = await service.update("u", record.id, metadata={"lang": "de"}, outcome="user_engaged")
    assert embedder.texts == []
    assert updated.metadata == {"lang": "de"}
    assert isinstance(updated, Intervention)
    assert updated.outcome is Outcome.USER_ENGAGED


async def test_update_of_embedded_text_embeds_the_record_again(
    service: MemoryService, embedder: CountingEmbedder
) -> None:
    record = await _record(service)
    embedder.texts.clear()
    updated = await service.update("u", record.id, text="Go for a short walk", context="")
    assert isinstance(updated, Intervention)
    assert embedder.texts == [updated.embedding_text()]
    assert (updated.intervention_text, updated.context, updated.task) == (
        "Go for a short walk",
        "",
        "breathing",
    )
    hits = await service.search_interventions("u", updated.embedding_text(), k=1)
    assert hits[0].record == updated
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)


async def test_update_text_of_a_reflection(service: MemoryService) -> None:
    reflection = (await service.record_reflection("u", "Mornings work")).records[0]
    updated = await service.update("u", reflection.id, text="Evenings work better")
    assert isinstance(updated, Reflection)
    assert updated.text == "Evenings work better"
    assert updated.source_ids == reflection.source_ids
    with pytest.raises(NotFoundError):
        await service.update("u", reflection.id, task="walk")


async def test_a_reembedding_update_reads_again_when_another_update_came_first(
    service: MemoryService, embedder: CountingEmbedder
) -> None:
    record = await _record(service)
    store = service.store.inner
    original = store.update
    raced = False

    async def racing(user_id: str, update: RecordUpdate, vector: Vectors | None) -> object:
        nonlocal raced
        if update.guard and not raced:  # another writer lands between the read and the write
            raced = True
            await service.update_outcome("u", record.id, Outcome.USER_RESISTED)
        return await original(user_id, update, vector)

    store.update = racing  # type: ignore[method-assign]
    embedder.texts.clear()
    updated = await service.update("u", record.id, task="walking")
    assert len(embedder.texts) == 2  # embedded, conflicted, read again, embedded
    assert isinstance(updated, Intervention)
    assert (updated.task, updated.outcome) == ("walking", Outcome.USER_RESISTED)


async def test_an_update_that_keeps_conflicting_raises(service: MemoryService) -> None:
    record = await _record(service)
    store = service.store.inner

    async def always_changed(*_: object) -> object:
        raise ConflictError("changed", operation="update")

    store.update = always_changed  # type: ignore[method-assign]
    with pytest.raises(ConflictError):
        await service.update("u", record.id, task="walking")


async def test_search_min_score_leaves_out_less_similar_hits(service: MemoryService) -> None:
    await _record(service, text="Try box breathing")
    await _record(service, text="Drink a glass of water", task="hydrate", context="tired")
    everything = await service.search_interventions("u", "Try box breathing", k=5)
    assert len(everything) == 2
    bound = (everything[0].score + everything[1].score) / 2
    close = await service.search_interventions("u", "Try box breathing", k=5, min_score=bound)
    assert [hit.record.id for hit in close] == [everything[0].record.id]
    with pytest.raises(ValidationError):
        await service.search_interventions("u", "x", min_score=1.5)


async def _history(service: MemoryService) -> None:
    """Five box-breathing interventions (four completed), two walks (both resisted)."""
    outcomes = ["task_completed"] * 4 + ["user_resisted"]
    for n, outcome in enumerate(outcomes):
        await _record(service, text=f"Box breathing, round {n}", outcome=outcome)
    for n in range(2):
        await _record(service, text=f"Box breathing walk {n}", task="walk", outcome="user_resisted")


async def test_what_worked_ranks_by_similarity_and_outcome(service: MemoryService) -> None:
    await _history(service)
    worked = await service.what_worked("u", "Box breathing before a talk", k=3)
    assert isinstance(worked, WhatWorked)
    assert len(worked.hits) == 3
    assert all(hit.record.outcome is Outcome.TASK_COMPLETED for hit in worked.hits)
    for hit in worked.hits:
        assert hit.outcome_weight == 1.0
        assert hit.recency == 1.0
        assert hit.score == pytest.approx(max(hit.similarity, 0) * hit.outcome_weight)
    scores = [hit.score for hit in worked.hits]
    assert scores == sorted(scores, reverse=True)
    rates = {rate.task: rate for rate in worked.rates}
    assert str(rates["breathing"]) == "breathing: 4 of 5 completed"
    assert rates["walk"].by_outcome == {"user_resisted": 2}
    assert worked == await service.what_worked("u", "Box breathing before a talk", k=3)


async def test_what_worked_narrows_to_a_task_and_leaves_reflections_out(
    service: MemoryService,
) -> None:
    await _history(service)
    await service.record_reflection("u", "Box breathing before a talk works")
    worked = await service.what_worked("u", "Box breathing before a talk", task="walk", k=5)
    assert {hit.record.task for hit in worked.hits} == {"walk"}
    assert [str(rate) for rate in worked.rates] == ["walk: 0 of 2 completed"]


async def test_what_worked_weights_and_half_life_come_from_settings() -> None:
    settings = WhatWorkedSettings(
        outcome_weights={Outcome.USER_RESISTED: 1.0, Outcome.TASK_COMPLETED: 0.5},
        half_life_days=1.0,
    )
    service = MemoryService(InMemoryStore(), HashingEmbedder(dimension=32), what_worked=settings)
    async with service:
        old = utcnow() - timedelta(days=2)
        await _record(service, text="Box breathing", outcome="user_resisted", created_at=old)
        worked = await service.what_worked("u", "Box breathing", k=1)
    (hit,) = worked.hits
    assert hit.outcome_weight == 1.0
    assert hit.recency == pytest.approx(0.25, rel=1e-3)
    assert hit.score == pytest.approx(hit.similarity * 0.25, rel=1e-3)


def test_what_worked_settings_reject_weights_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="outcome_weights"):
        WhatWorkedSettings(outcome_weights={Outcome.TASK_COMPLETED: 2.0})


async def test_what_worked_validates_its_input_naming_the_argument(
    service: MemoryService,
) -> None:
    for call, field in (
        (service.what_worked("", "x"), "user_id"),
        (service.what_worked("u", ""), "situation"),
        (service.what_worked("u", "x", k=0), "k"),
        (service.what_worked("u", "x", task=""), "task"),
        (service.what_worked("u", "x", agent_id="a*"), "agent_id"),
        (service.what_worked("u", "x", session_id=" s"), "session_id"),
        (service.forget("u", agent_id="a*"), "agent_id"),
    ):
        with pytest.raises(ValidationError) as raised:
            await call
        assert raised.value.field == field


def test_record_update_lists_what_it_changes() -> None:
    update = RecordUpdate("i1", RecordKind.INTERVENTION, {"outcome": Outcome.UNKNOWN}, utcnow(), 5)
    assert update.changed == {"outcome", "updated_at", "outcome_history"}
