"""Updates on the real server: racing writers in two processes' worth of clients lose
nothing, a re-embedding update never leaves a stale vector, and the script reloads
itself after the server forgets it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest
import redis.asyncio as aioredis

from memcore import Intervention, MemoryService, Outcome
from memcore.domain import RecordKind, RecordUpdate, utcnow
from memcore.errors import StoreError
from memcore.testing import SCHEMA, CountingEmbedder, unit_vectors
from memcore.testing._suite import intervention
from memcore_redis import RedisStore
from memcore_redis.commands import call

from .conftest import StoreFactory, index_refusing_vectors

pytestmark = pytest.mark.parametrize("storage_type", ["hash", "json"])


@pytest.fixture
async def two_services(
    make_store: StoreFactory, storage_type: str
) -> AsyncIterator[tuple[MemoryService, MemoryService]]:
    """Two services, each with its own store (own connection pool) on the same data."""
    first = make_store(storage_type=storage_type)
    second: RedisStore = make_store(storage_type=storage_type, key_prefix=first.settings.key_prefix)
    services = (
        MemoryService(first, CountingEmbedder(dimension=32)),
        MemoryService(second, CountingEmbedder(dimension=32)),
    )
    for service in services:
        await service.start()
    yield services
    for service in services:
        await service.aclose()


async def test_racing_outcome_updates_from_two_clients_are_all_kept(
    two_services: tuple[MemoryService, MemoryService],
) -> None:
    one, other = two_services
    record = (await one.record_intervention("u", "Try box breathing", task="breathing")).record
    for service in two_services:
        service.embedder.inner.texts.clear()  # type: ignore[attr-defined]
    outcomes = list(Outcome)
    await asyncio.gather(
        *(
            service.update_outcome("u", record.id, outcomes[n % len(outcomes)])
            for n in range(40)
            for service in two_services
        )
    )
    assert [s.embedder.inner.texts for s in two_services] == [[], []]  # type: ignore[attr-defined]
    stored = await other.get("u", record.id)
    assert isinstance(stored, Intervention)
    assert len(stored.outcome_history) == 80
    assert stored.outcome is stored.outcome_history[-1].outcome
    assert stored.updated_at == stored.outcome_history[-1].at


async def test_racing_reembedding_updates_keep_both_changes_and_a_fresh_vector(
    two_services: tuple[MemoryService, MemoryService],
) -> None:
    one, other = two_services
    record = (await one.record_intervention("u", "Try box breathing", task="breathing")).record
    for round_ in range(5):
        await asyncio.gather(
            one.update("u", record.id, task=f"task {round_}"),
            other.update("u", record.id, context=f"context {round_}"),
            one.update_outcome("u", record.id, Outcome.USER_ENGAGED),
        )
        stored = await other.get("u", record.id)
        assert isinstance(stored, Intervention)
        assert (stored.task, stored.context) == (f"task {round_}", f"context {round_}")
        [_], vectors = await other.store.get_with_vectors("u", [record.id])
        expected = await one.embedder.embed([stored.embedding_text()])
        assert np.allclose(vectors[0], expected[0] / np.linalg.norm(expected[0]), atol=1e-3)


async def test_the_script_is_loaded_again_after_the_server_forgot_it(
    two_services: tuple[MemoryService, MemoryService], raw_redis: aioredis.Redis
) -> None:
    one, _ = two_services
    record = (await one.record_intervention("u", "Try box breathing", task="breathing")).record
    await one.update_outcome("u", record.id, Outcome.USER_ENGAGED)
    await call(raw_redis, "SCRIPT", "FLUSH")
    updated = await one.update_outcome("u", record.id, Outcome.TASK_COMPLETED)
    assert [change.outcome for change in updated.outcome_history] == [
        Outcome.USER_ENGAGED,
        Outcome.TASK_COMPLETED,
    ]


@pytest.mark.parametrize("policy", ["skip", "merge"])
async def test_ten_identical_writes_at_once_from_two_clients_leave_one_record(
    two_services: tuple[MemoryService, MemoryService], policy: str
) -> None:
    writes = [
        service.record_intervention(
            "u", "Try box breathing", task="breathing", agent_id="coach", on_duplicate=policy
        )
        for service in two_services
        for _ in range(5)
    ]
    receipts = await asyncio.gather(*writes)
    assert len({receipt.record.id for receipt in receipts}) == 1
    assert (await two_services[0].stats("u")).interventions == 1
    stored = await two_services[0].get("u", receipts[0].record.id)
    assert isinstance(stored, Intervention)
    assert stored.seen == (10 if policy == "merge" else 1)  # merge counts every sighting
    later = await two_services[1].record_intervention(
        "u", "Try box breathing", task="breathing", agent_id="coach", on_duplicate=policy
    )
    assert later.record.id == receipts[0].record.id
    assert isinstance(later.record, Intervention)
    assert later.record.seen == (11 if policy == "merge" else 1)


async def test_a_created_duplicate_the_index_rejects_is_reported_and_not_left_behind(
    make_store: StoreFactory, raw_redis: aioredis.Redis, storage_type: str
) -> None:
    """The first write of a merged duplicate is checked as an upsert is: never stored
    unsearchable. An existing record counted again is not a write, and is left alone.
    """
    store = make_store(storage_type=storage_type)
    await store.ensure_schema(SCHEMA)
    await store.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=1))
    await index_refusing_vectors(raw_redis, store, SCHEMA.dimension * 2)
    for record_id in ("i2", "i1"):
        update = RecordUpdate(
            record_id, RecordKind.INTERVENTION, {}, utcnow(), 10, seen_again=True,
            create=intervention("u", int(record_id[1:]), record_id=record_id),
        )  # fmt: skip
        if record_id == "i2":
            with pytest.raises(StoreError, match="could not index") as raised:
                await store.update("u", update, unit_vectors(1, seed=2))
            assert (raised.value.operation, raised.value.user_id) == ("update", "u")
        else:
            counted = await store.update("u", update, unit_vectors(1, seed=2))
            assert isinstance(counted, Intervention)
            assert counted.seen == 2
    assert await store.get("u", ["i2"]) == []
