from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flaky_store import SCHEMA, FlakyStore

from memcore import MemoryService
from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.domain import HealthStatus, Outcome, SearchFilter, Status
from memcore.errors import StoreUnavailableError, ValidationError, VectorSearchError
from memcore.pipeline import Call, Pipeline, Result, StoreFront
from memcore.ports import MemoryStore, UnitVectors
from memcore.resilience.breaker import BreakerConfig, BreakerPolicy, CircuitBreaker
from memcore.resilience.degrade import DegradationPolicy
from memcore.resilience.outbox import Outbox
from memcore.testing import StoreContract
from memcore.testing._suite import intervention
from memcore.validation import unit_vectors

ALL = SearchFilter()


def journals(directory: Path) -> list[Path]:
    """The outbox journals in ``directory``."""
    return sorted(directory.glob("*.jsonl"))


def degrading(
    store: MemoryStore, outbox: Outbox | None = None, *, replay_interval: float = 0
) -> tuple[StoreFront, DegradationPolicy]:
    policy = DegradationPolicy(
        outbox if outbox is not None else Outbox(),
        backend=store.backend,
        replay_interval=replay_interval,
    )
    return Pipeline([policy]).store(store), policy


class TestDegradingStoreContract(StoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        store, _ = degrading(InMemoryStore())
        yield store
        await store.aclose()


def vectors(n: int, seed: int = 0) -> UnitVectors:
    raw = np.random.default_rng(seed).standard_normal((n, SCHEMA.dimension))
    return unit_vectors(raw, n, SCHEMA.dimension)


async def run(store: StoreFront, operation: str, user_id: str | None, **args: Any) -> Result[Any]:
    return await store.run(Call("store", operation, user_id, args))


@pytest.fixture
async def flaky() -> FlakyStore:
    store = FlakyStore()
    await store.ensure_schema(SCHEMA)
    return store


@pytest.fixture
async def front(flaky: FlakyStore) -> AsyncIterator[tuple[StoreFront, DegradationPolicy]]:
    store, policy = degrading(flaky)
    await store.ensure_schema(SCHEMA)
    yield store, policy
    await store.aclose()


async def test_writes_are_deferred_then_replayed_in_order(
    flaky: FlakyStore, front: tuple[StoreFront, DegradationPolicy]
) -> None:
    store, policy = front
    first = intervention("u", 1, outcome=Outcome.NO_RESPONSE)
    flaky.down = True
    written = await run(
        store, "upsert", "u", records=[first, intervention("u", 2)], vectors=vectors(2)
    )
    deleted = await run(store, "delete", "u", ids=["i2"])
    changed = dataclasses.replace(first, outcome=Outcome.TASK_COMPLETED)
    again = await run(store, "upsert", "u", records=[changed], vectors=vectors(1))
    assert [r.status for r in (written, deleted, again)] == [Status.DEFERRED] * 3
    assert deleted.value == 0
    assert len(policy.outbox) == 3
    flaky.down = False
    found = await run(store, "get", "u", ids=["i1", "i2"])
    assert found.status is Status.COMPLETE  # caught up first: a normal read
    assert [r.outcome for r in found.value] == [Outcome.TASK_COMPLETED]
    assert len(policy.outbox) == 0


async def test_reads_degrade_to_empty_results(
    flaky: FlakyStore, front: tuple[StoreFront, DegradationPolicy]
) -> None:
    store, policy = front
    await store.upsert("u", [intervention("u", 1)], vectors(1))
    degraded: list[str] = []
    policy.on_degraded_read = degraded.append
    flaky.down = True
    answers = [
        await run(store, "search", "u", vector=vectors(1)[0], k=3, filters=ALL),
        await run(store, "list", "u", filters=ALL, limit=10, cursor=None),
        await run(store, "count", "u", filters=ALL),
        await run(store, "get", "u", ids=["i1"]),
        await run(store, "user_ids", None),
        await run(store, "get_with_vectors", "u", ids=["i1"]),
    ]
    assert all(answer.status is Status.DEGRADED for answer in answers)
    assert answers[0].value == []
    assert answers[1].value.items == ()
    assert (answers[2].value, answers[3].value, answers[4].value) == (0, [], [])
    assert answers[5].value[0] == []
    assert degraded == ["search", "list", "count", "get", "user_ids", "get_with_vectors"]
    flaky.down = False
    counted = await run(store, "count", "u", filters=ALL)
    assert (counted.value, counted.status) == (1, Status.COMPLETE)


async def test_reads_are_flagged_while_writes_wait(flaky: FlakyStore) -> None:
    store, policy = degrading(flaky, replay_interval=3600)
    flaky.down = True
    await store.upsert("u", [intervention("u", 1)], vectors(1))  # deferred; the clock starts
    flaky.down = False
    counted = await run(store, "count", "u", filters=ALL)
    assert (counted.value, counted.status) == (0, Status.DEGRADED)  # without the deferred write
    assert await policy.recover()
    assert await store.count("u", ALL) == 1
    await store.aclose()


async def test_the_user_list_says_degraded_when_the_store_is_down(flaky: FlakyStore) -> None:
    store, _ = degrading(flaky)
    await store.upsert("u", [intervention("u", 1)], vectors(1))
    whole = await store.user_ids()
    assert (whole, whole.status) == (["u"], Status.COMPLETE)
    flaky.down = True
    users = await store.user_ids()
    assert (users, users.status, users.complete) == ([], Status.DEGRADED, False)
    await store.aclose()


async def test_a_write_that_landed_but_timed_out_leaves_one_record(
    flaky: FlakyStore, front: tuple[StoreFront, DegradationPolicy]
) -> None:
    store, policy = front
    flaky.land_then_fail = True
    written = await run(store, "upsert", "u", records=[intervention("u", 1)], vectors=vectors(1))
    assert written.status is Status.DEFERRED
    flaky.land_then_fail = False
    assert await policy.recover()
    assert await flaky.count("u", ALL) == 1


async def test_other_errors_still_raise(
    flaky: FlakyStore, front: tuple[StoreFront, DegradationPolicy]
) -> None:
    store, policy = front
    flaky.error, flaky.fail_next = VectorSearchError, 2
    with pytest.raises(VectorSearchError):
        await store.search("u", vectors(1)[0], 1, ALL)
    with pytest.raises(VectorSearchError):
        await store.upsert("u", [intervention("u", 1)], vectors(1))
    with pytest.raises(ValidationError):
        await store.upsert("other", [intervention("u", 1)], vectors(1))
    assert len(policy.outbox) == 0


async def test_without_the_policy_errors_propagate(flaky: FlakyStore) -> None:
    store = Pipeline().store(flaky)
    flaky.down = True
    with pytest.raises(StoreUnavailableError):
        await store.upsert("u", [intervention("u", 1)], vectors(1))
    with pytest.raises(StoreUnavailableError):
        await store.count("u", ALL)
    with pytest.raises(StoreUnavailableError):
        await store.ensure_schema(SCHEMA)


async def test_a_full_outbox_raises_a_store_error(flaky: FlakyStore) -> None:
    store, policy = degrading(flaky, Outbox(capacity=1), replay_interval=3600)
    flaky.down = True
    with pytest.raises(StoreUnavailableError, match="injected"):  # too big for the outbox
        await store.upsert("u", [intervention("u", 1), intervention("u", 2)], vectors(2))
    await store.upsert("u", [intervention("u", 1)], vectors(1))
    with pytest.raises(StoreUnavailableError, match="outbox is full"):
        await store.upsert("u", [intervention("u", 2)], vectors(1))
    assert policy.outbox.dropped == 3
    flaky.down = False
    with pytest.raises(StoreUnavailableError, match="outbox is full"):
        await store.delete("u", ["i1"])  # not caught up yet: it would have to queue
    await store.aclose()  # the last replay hands the queued write over
    assert await flaky.memory.count("u", ALL) == 1


async def test_background_replay_needs_no_further_calls(flaky: FlakyStore) -> None:
    store, policy = degrading(flaky, replay_interval=0.01)
    flaky.down = True
    await store.upsert("u", [intervention("u", 1)], vectors(1))
    flaky.down = False
    for _ in range(200):
        if not policy.backlog:
            break
        await asyncio.sleep(0.01)
    assert await flaky.count("u", ALL) == 1
    await store.aclose()


async def test_schema_check_waits_for_the_store_and_reads_degrade_meanwhile() -> None:
    fresh = FlakyStore()
    fresh.down = True
    store, policy = degrading(fresh, replay_interval=3600)
    ensured = await run(store, "ensure_schema", None, schema=SCHEMA)
    assert ensured.status is Status.DEFERRED  # start-up goes on
    fresh.down = False
    # No schema on the store yet: the read is answered without asking it, and says so.
    searched = await run(store, "search", "u", vector=vectors(1)[0], k=3, filters=ALL)
    assert (searched.value, searched.status) == ([], Status.DEGRADED)
    check = await store.health()
    assert check.status is HealthStatus.DEGRADED
    assert check.facts["schema_pending"] is True
    fresh.down = True
    await store.upsert("u", [intervention("u", 1)], vectors(1))
    fresh.down = False
    assert await policy.recover()
    assert await store.count("u", ALL) == 1
    assert not policy.backlog
    await store.aclose()


async def test_reads_wait_for_the_schema_check_and_answer_empty() -> None:
    # A store reached before its schema is ensured may refuse for good (Redis does).
    fresh = FlakyStore()
    fresh.down = True
    store, _ = degrading(fresh)
    await store.ensure_schema(SCHEMA)
    searched = await run(store, "search", "u", vector=vectors(1)[0], k=3, filters=ALL)
    assert (searched.value, searched.status) == ([], Status.DEGRADED)
    assert "search" not in fresh.calls
    await store.aclose()


async def test_health_is_degraded_while_writes_wait(
    flaky: FlakyStore, front: tuple[StoreFront, DegradationPolicy]
) -> None:
    store, policy = front
    assert (await store.health()).status is HealthStatus.HEALTHY
    flaky.down = True
    await store.forget_user("u")
    flaky.down = False
    policy.replay_interval = 3600
    check = await store.health()
    assert check.status is HealthStatus.DEGRADED
    assert (check.facts["outbox_entries"], check.facts["outbox_dropped"]) == (1, 0)
    assert "1 deferred" in check.detail


async def test_a_durable_outbox_hands_writes_to_the_next_process(tmp_path: Path) -> None:
    backend = InMemoryStore()
    await backend.ensure_schema(SCHEMA)
    flaky = FlakyStore(backend)
    first, _ = degrading(flaky, Outbox(directory=tmp_path), replay_interval=3600)
    flaky.down = True
    await first.upsert("u", [intervention("u", n) for n in range(3)], vectors(3))
    await first.aclose()  # the store is still down: the writes stay in the journal
    assert len(list(journals(tmp_path))) == 1
    flaky.down = False
    second, policy = degrading(backend, Outbox(directory=tmp_path), replay_interval=3600)
    await policy.start()  # adopts the journal and replays it at once
    assert await backend.count("u", ALL) == 3
    assert not policy.backlog
    assert list(journals(tmp_path)) == []
    await second.aclose()


async def test_a_live_process_keeps_its_own_journal(tmp_path: Path) -> None:
    backend = InMemoryStore()
    await backend.ensure_schema(SCHEMA)
    flaky = FlakyStore(backend)
    first, owner = degrading(flaky, Outbox(directory=tmp_path), replay_interval=3600)
    flaky.down = True
    await first.upsert("u", [intervention("u", 1)], vectors(1))
    other, adopter = degrading(backend, Outbox(directory=tmp_path), replay_interval=3600)
    assert await adopter.outbox.adopt() == 0  # its owner is alive: not an orphan
    assert len(owner.outbox) == 1
    await other.aclose()
    flaky.down = False
    await first.aclose()  # the owner replays it on its way out and removes the journal
    assert await backend.count("u", ALL) == 1
    assert list(journals(tmp_path)) == []


async def test_concurrent_writers_through_an_outage_lose_and_duplicate_nothing(
    flaky: FlakyStore,
) -> None:
    breaker = CircuitBreaker("store", BreakerConfig(min_calls=5, open_for=0.01))
    policy = DegradationPolicy(Outbox(), backend="flaky", replay_interval=0.005)
    store = Pipeline([policy, BreakerPolicy("store", breaker, backend="flaky")]).store(flaky)

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
        if not policy.backlog:
            break
        await asyncio.sleep(0.01)
    assert policy.outbox.dropped == 0
    for user in range(20):
        page = await flaky.memory.list(f"user-{user}", ALL, 100)
        assert sorted(r.id for r in page.items) == sorted(f"i{n}" for n in range(10))
    await store.aclose()


async def test_a_merged_first_write_while_the_store_is_away_is_deferred() -> None:
    flaky = FlakyStore()
    policy = DegradationPolicy(Outbox(), backend="flaky", replay_interval=0.005)
    memory = MemoryService(flaky, HashingEmbedder(SCHEMA.dimension), policies=[policy])
    await memory.start()
    flaky.down = True
    receipt = await memory.record_intervention(
        "u", "Try box breathing", task="breathing", on_duplicate="merge"
    )
    assert receipt.deferred
    flaky.down = False
    await memory.aclose()
    assert await flaky.memory.count("u", ALL) == 1
