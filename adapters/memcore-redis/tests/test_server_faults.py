"""Pools, health and errors against servers that come and go."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from memcore import MemoryService, Outcome
from memcore.adapters.hashing import HashingEmbedder
from memcore.domain import SearchFilter
from memcore.errors import StoreError, StoreUnavailableError
from memcore.resilience import DegradationPolicy, Outbox
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.testing import EmbeddedRedis

from .conftest import StoreFactory


@pytest.fixture
def own_server() -> Iterator[EmbeddedRedis]:
    """A server this test may stop."""
    with EmbeddedRedis() as server:
        yield server


async def _clients(raw: aioredis.Redis) -> int:
    return int((await raw.info("clients"))["connected_clients"])


async def test_fifty_open_close_cycles_leak_no_connection(
    make_store: StoreFactory, raw_redis: aioredis.Redis
) -> None:
    keeper = make_store()
    await keeper.ensure_schema(SCHEMA)
    await keeper.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=1))
    before = await _clients(raw_redis)
    for _ in range(50):
        store = RedisStore(keeper.settings)
        await store.ensure_schema(SCHEMA)
        await store.search("u", unit_vectors(1, seed=1)[0], 1, SearchFilter())
        await store.aclose()
        await store.aclose()
    assert await _clients(raw_redis) == before


async def test_health_reports_the_facts(make_store: StoreFactory) -> None:
    store = make_store()
    assert (await store.health()).status.value == "unhealthy"  # no index yet
    await store.ensure_schema(SCHEMA)
    await store.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=1))
    for _ in range(100):  # FT.CREATE scans the keyspace in the background first
        check = await store.health()
        if check.facts.get("percent_indexed") == 1.0:
            break
        await asyncio.sleep(0.05)
    assert check.status.value == "healthy", check.detail
    facts = check.facts
    assert facts["num_docs"] == 1
    assert facts["indexing_failures"] == 0
    assert facts["percent_indexed"] == 1.0
    assert facts["schema_matches"] is True
    assert isinstance(facts["search_version"], int)
    assert isinstance(facts["json_version"], int)
    assert int(facts["used_memory"]) > 0
    assert float(facts["ping_ms"]) >= 0


async def test_a_stopped_server_is_unavailable_and_unhealthy(own_server: EmbeddedRedis) -> None:
    store = RedisStore(
        RedisSettings(url=own_server.url, socket_timeout=1, socket_connect_timeout=1)
    )
    try:
        await store.ensure_schema(SCHEMA)
        own_server.stop()
        with pytest.raises(StoreUnavailableError) as raised:
            await store.count("u", SearchFilter())
        assert raised.value.retryable
        assert raised.value.operation == "count"
        assert raised.value.user_id == "u"
        assert raised.value.__cause__ is not None
        with pytest.raises(StoreUnavailableError):
            await store.search("u", unit_vectors(1, seed=1)[0], 1, SearchFilter())
        check = await store.health()
        assert check.status.value == "unhealthy"
        assert "unavailable" in check.detail
    finally:
        await store.aclose()
    assert (await store.health()).status.value == "unhealthy"


async def test_methods_before_ensure_schema_explain_themselves(make_store: StoreFactory) -> None:
    with pytest.raises(StoreError, match="ensure_schema"):
        await make_store().count("u", SearchFilter())


async def test_an_update_while_the_server_is_down_is_refused_never_reported_stored(
    tmp_path: Path,
) -> None:
    """An update answers with the record as stored, so it cannot wait in the outbox: while
    the server is down it raises a retryable StoreUnavailableError and changes nothing;
    while a write waits in the outbox, it is refused until that write is replayed, and
    then applies after it.
    """
    server = EmbeddedRedis(data_dir=tmp_path / "data", extra_args=("--appendonly", "yes"))
    server.start()
    settings = RedisSettings(url=server.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    degrading = DegradationPolicy(Outbox(), backend="redis", replay_interval=3600)
    memory = MemoryService(
        RedisStore(settings), HashingEmbedder(dimension=32), policies=[degrading]
    )
    try:
        await memory.start()
        stored = (await memory.record_intervention("u", "Try box breathing", task="t")).record
        server.stop()
        with pytest.raises(StoreUnavailableError) as refused:
            await memory.update_outcome("u", stored.id, Outcome.TASK_COMPLETED)
        assert (refused.value.retryable, refused.value.operation) == (True, "update")
        waiting = await memory.record_intervention("u", "Walk for ten minutes", task="t")
        assert waiting.deferred
        server.start()  # the same port and data: the write still waits in the outbox
        with pytest.raises(StoreUnavailableError, match="not applied") as behind:
            await memory.update_outcome("u", waiting.record.id, Outcome.TASK_COMPLETED)
        assert behind.value.retryable
        [before] = await memory.store.get("u", [stored.id])
        assert (before.outcome, before.updated_at) == (Outcome.UNKNOWN, None)
        degrading.replay_interval = 0  # the next call replays first, then updates
        done = await memory.update_outcome("u", waiting.record.id, Outcome.TASK_COMPLETED)
        assert done.outcome is Outcome.TASK_COMPLETED
        assert not degrading.backlog
    finally:
        await memory.aclose()
        server.stop()
