"""Records are frozen, never alias their inputs, and ids make retries idempotent."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

import pytest

import memcore
from memcore import Intervention, MemoryService, Outcome, Reflection, SearchFilter, Vectors
from memcore.adapters.memory import InMemoryStore
from memcore.domain import MemoryRecord, RecordKind, new_id, utcnow
from memcore.domain.codec import record_from_dict, record_to_dict
from memcore.testing import CountingEmbedder


def test_records_are_frozen_and_copy_their_metadata() -> None:
    metadata = {"lang": "en"}
    record = Intervention(id="a", user_id="u", intervention_text="t", task="x", metadata=metadata)
    metadata["lang"] = "de"
    assert record.metadata["lang"] == "en"
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.task = "y"  # type: ignore[misc]
    with pytest.raises(TypeError):
        record.metadata["lang"] = "fr"  # type: ignore[index]
    assert hash(record) == hash(dataclasses.replace(record))


def test_reprs_leave_out_memory_content() -> None:
    record = Intervention(
        id="a",
        user_id="u",
        intervention_text="SECRET-TEXT",
        task="x",
        context="SECRET-CONTEXT",
        metadata={"k": "SECRET-META"},
    )
    reflection = Reflection(id="r", user_id="u", text="SECRET-REFLECTION")
    assert "SECRET" not in repr(record) + repr(reflection)


def test_idempotency_keys_give_stable_ids() -> None:
    assert new_id("turn-17") == new_id("turn-17")
    assert new_id("turn-17") != new_id("turn-18")
    assert new_id() != new_id()


def test_codec_round_trips_both_kinds() -> None:
    intervention = Intervention(
        id="a",
        user_id="u",
        intervention_text="t",
        task="x",
        outcome=Outcome.ESCALATED,
        metadata={"n": 1, "b": True, "f": 0.5, "s": "x"},
    )
    reflection = Reflection(id="r", user_id="u", text="t", source_ids=("a",))
    for record in (intervention, reflection):
        assert record_from_dict(record_to_dict(record)) == record


def test_filter_reference_semantics() -> None:
    now = utcnow()
    record = Intervention(
        id="a",
        user_id="u",
        intervention_text="t",
        task="walk",
        created_at=now,
        metadata={"n": 1},
    )
    assert SearchFilter(task="walk", created_after=now).matches(record)
    assert not SearchFilter(created_before=now).matches(record)
    assert not SearchFilter(metadata={"n": True}).matches(record)
    assert not SearchFilter(metadata={"n": 1.0}).matches(record)
    assert not SearchFilter(kind=RecordKind.REFLECTION).matches(record)
    assert SearchFilter.parse({"outcome": "unknown"}).matches(record)
    assert SearchFilter().is_empty
    reflection = Reflection(id="r", user_id="u", text="t", created_at=now - timedelta(days=1))
    assert not SearchFilter(task="walk").matches(reflection)


async def test_retried_write_with_the_same_key_leaves_one_record(memory: MemoryService) -> None:
    for _ in range(3):
        await memory.record_intervention("u", "hi", task="t", idempotency_key="turn-1")
    assert (await memory.stats("u")).interventions == 1


async def test_a_record_is_searchable_when_the_call_returns(memory: MemoryService) -> None:
    recorded = (
        await memory.record_intervention(
            "u", "box breathing before the interview", task="calm", outcome="task_completed"
        )
    ).record
    hits = await memory.search_interventions("u", recorded.embedding_text(), k=1)
    assert hits[0].record == recorded
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert await memory.get("u", recorded.id) == recorded
    with pytest.raises(memcore.NotFoundError):
        await memory.get("someone-else", recorded.id)


async def test_search_kinds_and_filters_through_the_service(memory: MemoryService) -> None:
    done = (
        await memory.record_intervention("u", "walk", task="move", outcome="task_completed")
    ).record
    await memory.record_intervention("u", "walk", task="move", outcome="no_response")
    insight = (await memory.record_reflection("u", "walks work", source_ids=[done.id])).record
    hits = await memory.search_interventions("u", "walk", filters={"outcome": "task_completed"})
    assert [hit.record for hit in hits] == [done]
    assert [hit.record for hit in await memory.search_reflections("u", "walk")] == [insight]
    page = await memory.list("u", filters={"kind": "reflection"})
    assert page.items == (insight,)
    assert await memory.delete("u", insight.id) == 1
    assert await memory.forget_user("u") == 2
    stats = await memory.stats("u")
    assert (stats.interventions, stats.reflections, stats.by_outcome) == (0, 0, {})


class CountingStore(InMemoryStore):
    calls = 0

    async def upsert(self, user_id: str, records: Sequence[MemoryRecord], vectors: Vectors) -> None:
        self.calls += 1
        await super().upsert(user_id, records, vectors)


async def test_batch_record_embeds_once_and_stores_once() -> None:
    store, embedder = CountingStore(), CountingEmbedder(dimension=16)
    async with MemoryService(store, embedder) as memory:
        items = [{"intervention_text": f"tip {n}", "task": "t"} for n in range(10)]
        recorded = (await memory.record_interventions("u", items)).records
    assert (embedder.calls, store.calls) == (1, 1)
    assert len({r.id for r in recorded}) == 10
