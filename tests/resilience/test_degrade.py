from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from flaky_store import SCHEMA, FlakyStore

from memcore.adapters.memory import InMemoryStore
from memcore.domain import HealthStatus, Outcome, SearchFilter
from memcore.errors import StoreUnavailableError, ValidationError, VectorSearchError
from memcore.ports import MemoryStore
from memcore.resilience.breaker import BreakerConfig, BreakerStore, CircuitBreaker
from memcore.resilience.degrade import DegradingStore, track_degradation
from memcore.resilience.outbox import Outbox
from memcore.testing import StoreContract
from memcore.testing._suite import intervention

ALL = SearchFilter()


class TestDegradingStoreContract(StoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        store = DegradingStore(InMemoryStore())
        yield store
        await store.aclose()


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, SCHEMA.dimension)).astype(np.float32)


@pytest.fixture
async def flaky() -> FlakyStore:
    store = FlakyStore()
    await store.ensure_schema(SCHEMA)
    return store


@pytest.fixture
async def store(flaky: FlakyStore) -> AsyncIterator[DegradingStore]:
    store = DegradingStore(flaky, replay_interval=0)
    await store.ensure_schema(SCHEMA)
    yield store
    await store.aclose()


async def test_writes_are_deferred_then_replayed_in_order(
    flaky: FlakyStore, store: DegradingStore
) -> None:
    first = intervention("u", 1, outcome=Outcome.NO_RESPONSE)
    flaky.down = True
    with track_degradation() as status:
        await store.upsert("u", [first, intervention("u", 2)], vectors(2))
        assert await store.delete("u", ["i2"]) == 0
        await store.upsert(
            "u", [dataclasses.replace(first, outcome=Outcome.TASK_COMPLETED)], vectors(1)
        )
    assert (status.deferred, status.degraded) == (3, False)
    assert len(store.outbox) == 3
    flaky.down = False
    with track_degradation() as status:
        assert [r.outcome for r in await store.get("u", ["i1", "i2"])] == [Outcome.TASK_COMPLETED]
    assert status == type(status)()  # caught up first: a normal read
    assert len(store.outbox) == 0


async def test_reads_degrade_to_empty_results(flaky: FlakyStore, store: DegradingStore) -> None:
    await store.upsert("u", [intervention("u", 1)], vectors(1))
    degraded: list[str] = []
    store.on_degraded_read = degraded.append
    flaky.down = True
    with track_degradation() as status:
        assert await store.search("u", vectors(1)[0], 3, ALL) == []
        assert (await store.list("u", ALL, 10)).items == ()
        assert await store.count("u", ALL) == 0
        assert await store.get("u", ["i1"]) == []
        assert await store.user_ids() == []
        records, vecs = await store.get_with_vectors("u", ["i1"])
        assert (records, vecs.shape) == ([], (0, SCHEMA.dimension))
    assert status.degraded
    assert degraded == ["search", "list", "count", "get", "user_ids", "get_with_vectors"]
    flaky.down = False
    with track_degradation() as status:
        assert await store.count("u", ALL) == 1
    assert not status.degraded


async def test_reads_are_flagged_while_writes_wait(flaky: FlakyStore) -> None:
    store = DegradingStore(flaky, replay_interval=3600)
    flaky.down = True
    await store.upsert("u", [intervention("u", 1)], vectors(1))  # deferred; the clock starts
    flaky.down = False
    with track_degradation() as status:
        assert await store.count("u", ALL) == 0  # answered, but without the deferred write
    assert status.degraded
    assert await store.recover()
    assert await store.count("u", ALL) == 1
    await store.aclose()


async def test_a_write_that_landed_but_timed_out_leaves_one_record(
    flaky: FlakyStore, store: DegradingStore
) -> None:
    flaky.land_then_fail = True
    with track_degradation() as status:
        await store.upsert("u", [intervention("u", 1)], vectors(1))
    assert status.deferred == 1
    flaky.land_then_fail = False
    assert await store.recover()
    assert await flaky.count("u", ALL) == 1


async def test_other_errors_still_raise(flaky: FlakyStore, store: DegradingStore) -> None:
    flaky.error, flaky.fail_next = VectorSearchError, 2
    with pytest.raises(VectorSearchError):
        await store.search("u", vectors(1)[0], 1, ALL)
    with pytest.raises(VectorSearchError):
        await store.upsert("u", [intervention("u", 1)], vectors(1))
    with pytest.raises(ValidationError):
        await store.upsert("other", [intervention("u", 1)], vectors(1))
    assert len(store.outbox) == 0


async def test_raise_policy_restores_raising(flaky: FlakyStore) -> None:
    store = DegradingStore(flaky, policy="raise")
    flaky.down = True
    with pytest.raises(StoreUnavailableError):
        await store.upsert("u", [intervention("u", 1)], vectors(1))
    with pytest.raises(StoreUnavailableError):
        await store.count("u", ALL)
    with pytest.raises(StoreUnavailableError):
        await store.ensure_schema(SCHEMA)
    assert len(store.outbox) == 0


async def test_a_full_outbox_raises_a_store_error(flaky: FlakyStore) -> None:
    store = DegradingStore(flaky, Outbox(capacity=1), replay_interval=3600)
    flaky.down = True
    with pytest.raises(StoreUnavailableError, match="injected"):  # too big for the outbox
        await store.upsert("u", [intervention("u", 1), intervention("u", 2)], vectors(2))
    await store.upsert("u", [intervention("u", 1)], vectors(1))
    with pytest.raises(StoreUnavailableError, match="outbox is full"):
        await store.upsert("u", [intervention("u", 2)], vectors(1))
    assert store.outbox.dropped == 3
    flaky.down = False
    with pytest.raises(StoreUnavailableError, match="outbox is full"):
        await store.delete("u", ["i1"])  # not caught up yet: it would have to queue
    await store.aclose()  # the last replay hands the queued write over
    assert await flaky.count("u", ALL) == 1


async def test_background_replay_needs_no_further_calls(flaky: FlakyStore) -> None:
    store = DegradingStore(flaky, replay_interval=0.01)
    flaky.down = True
    await store.upsert("u", [intervention("u", 1)], vectors(1))
    flaky.down = False
    for _ in range(200):
        if not store.backlog:
            break
        await asyncio.sleep(0.01)
    assert await flaky.count("u", ALL) == 1
    await store.aclose()


async def test_schema_check_waits_for_the_store() -> None:
    fresh = FlakyStore()
    fresh.down = True
    store = DegradingStore(fresh, replay_interval=0)
    await store.ensure_schema(SCHEMA)  # does not raise: start-up goes on
    await store.upsert("u", [intervention("u", 1)], vectors(1))
    assert store.backlog
    assert (await store.health()).status is HealthStatus.DEGRADED
    fresh.down = False
    assert await store.count("u", ALL) == 1
    assert not store.backlog
    await store.aclose()


async def test_reads_wait_for_the_schema_check_and_answer_empty() -> None:
    # A store reached before its schema is ensured may refuse for good (Redis does).
    fresh = FlakyStore()
    fresh.down = True
    store = DegradingStore(fresh, replay_interval=0)
    await store.ensure_schema(SCHEMA)
    with track_degradation() as status:
        assert await store.search("u", vectors(1)[0], 3, ALL) == []
    assert status.degraded
    assert "search" not in fresh.calls
    await store.aclose()


async def test_health_is_degraded_while_writes_wait(
    flaky: FlakyStore, store: DegradingStore
) -> None:
    assert (await store.health()).status is HealthStatus.HEALTHY
    flaky.down = True
    await store.forget_user("u")
    flaky.down = False
    store.replay_interval = 3600
    check = await store.health()
    assert check.status is HealthStatus.DEGRADED
    assert (check.facts["outbox_entries"], check.facts["outbox_dropped"]) == (1, 0)
    assert "1 deferred" in check.detail


async def test_file_outbox_carries_writes_across_a_restart(tmp_path: Path) -> None:
    backend = InMemoryStore()
    flaky = FlakyStore()
    flaky.inner = flaky.memory = backend
    await backend.ensure_schema(SCHEMA)
    path = tmp_path / "outbox.jsonl"
    first = DegradingStore(flaky, Outbox(path=path), replay_interval=3600)
    flaky.down = True
    await first.upsert("u", [intervention("u", n) for n in range(3)], vectors(3))
    await first.aclose()  # the store is still down: the writes stay in the file
    flaky.down = False
    second = DegradingStore(backend, Outbox(path=path), replay_interval=0)
    assert second.backlog
    assert await second.count("u", ALL) == 3
    await second.aclose()


async def test_concurrent_writers_through_an_outage_lose_and_duplicate_nothing(
    flaky: FlakyStore,
) -> None:
    breaker = CircuitBreaker("store", BreakerConfig(min_calls=5, open_for=0.01))
    store = DegradingStore(BreakerStore(flaky, breaker), replay_interval=0.005)

    async def writer(user: int) -> None:
        for n in range(10):
            await store.upsert(f"user-{user}", [intervention(f"user-{user}", n)], vectors(1, n))
            await asyncio.sleep(0)

    async def chaos() -> None:
        for _ in range(20):
            flaky.down = not flaky.down
            await asyncio.sleep(0.002)
        flaky.down = False

    await asyncio.gather(chaos(), *(writer(u) for u in range(20)))
    for _ in range(500):
        if not store.backlog:
            break
        await asyncio.sleep(0.01)
    assert store.outbox.dropped == 0
    for user in range(20):
        page = await flaky.list(f"user-{user}", ALL, 100)
        assert sorted(r.id for r in page.items) == sorted(f"i{n}" for n in range(10))
    await store.aclose()


async def test_nested_trackers_all_hear(flaky: FlakyStore, store: DegradingStore) -> None:
    flaky.down = True
    with track_degradation() as outer:
        with track_degradation() as inner:
            await store.upsert("u", [intervention("u", 1)], vectors(1))
        await store.count("u", ALL)
    assert (inner.deferred, inner.degraded) == (1, False)
    assert (outer.deferred, outer.degraded) == (1, True)
