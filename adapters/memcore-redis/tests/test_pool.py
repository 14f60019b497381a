"""The store's connection pool: a burst queues for connections, a long wait fails cleanly."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

import memcore
from memcore.domain import SearchFilter
from memcore.errors import StoreUnavailableError
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention
from memcore_redis import RedisSettings
from memcore_redis.client import connection_pool

from .conftest import StoreFactory


async def test_a_burst_larger_than_the_pool_queues_and_succeeds(make_store: StoreFactory) -> None:
    store = make_store(max_connections=2)
    await store.ensure_schema(SCHEMA)
    vectors = unit_vectors(1, seed=3)
    writes = [store.upsert("u", [intervention("u", n)], vectors) for n in range(40)]
    await asyncio.gather(*writes)
    counts = await asyncio.gather(*(store.count("u", SearchFilter()) for _ in range(20)))
    assert counts == [40] * 20


async def test_waiting_past_the_pool_timeout_is_unavailable(make_store: StoreFactory) -> None:
    store = make_store(max_connections=1, pool_timeout=0.2)
    await store.ensure_schema(SCHEMA)
    pool = store._pool  # hold the only connection, so the store has to wait
    held = await pool.get_connection()
    try:
        with pytest.raises(StoreUnavailableError, match="no free connection"):
            await store.count("u", SearchFilter())
    finally:
        await pool.release(held)
    assert await store.count("u", SearchFilter()) == 0  # the slot came back


async def test_each_waiter_times_out_at_its_own_deadline(redis_server_url: str) -> None:
    """One timer serves the queue: a waiter queued later fails later, not with the first,
    and a slot released meanwhile goes to a waiter still waiting.
    """
    pool = connection_pool(RedisSettings(url=redis_server_url, pool_timeout=0.3), max_connections=1)
    loop = asyncio.get_running_loop()
    held = await pool.get_connection()

    async def refused() -> float:
        began = loop.time()
        with pytest.raises(RedisConnectionError, match="no free connection"):
            await pool.get_connection()
        return loop.time() - began

    first = asyncio.ensure_future(refused())
    await asyncio.sleep(0.15)
    second = asyncio.ensure_future(refused())
    assert 0.25 < await first < 0.4
    assert not second.done()  # its deadline is 0.15 s later
    assert 0.25 < await second < 0.4
    third = asyncio.ensure_future(pool.get_connection())
    await asyncio.sleep(0.05)
    await pool.release(held)
    await pool.release(await asyncio.wait_for(third, 1))
    assert pool.waits()[0] == 3
    await pool.aclose()


async def test_a_failed_connect_gives_its_slot_back() -> None:
    settings = RedisSettings(
        url="redis://127.0.0.1:9/0", socket_connect_timeout=0.5, pool_timeout=0.2
    )
    pool = connection_pool(settings, max_connections=1)
    for _ in range(3):  # with a leaked slot the second attempt would say "no free connection"
        with pytest.raises(RedisConnectionError, match="connecting to"):
            await pool.get_connection()
    await pool.aclose()


async def test_the_pool_wait_is_in_the_metrics_of_a_connected_service(
    make_store: StoreFactory, redis_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = make_store().settings.key_prefix  # cleaned up with the fixture's stores
    monkeypatch.setenv("MEMCORE_REDIS_URL", redis_server_url)
    monkeypatch.setenv("MEMCORE_REDIS_KEY_PREFIX", prefix)
    monkeypatch.setenv("MEMCORE_REDIS_MAX_CONNECTIONS", "1")
    async with memcore.connect(store="redis", embedder="hashing") as service:
        metrics = service.telemetry.metrics
        assert metrics is not None
        labels = {"backend": "redis"}
        before = metrics.registry.get_sample_value("memcore_pool_waits_total", labels)
        assert before is not None
        await asyncio.gather(
            *(service.record_intervention(f"u{n}", "Breathe slowly", task="calm") for n in range(8))
        )
        waits = metrics.registry.get_sample_value("memcore_pool_waits_total", labels)
        waited = metrics.registry.get_sample_value("memcore_pool_wait_seconds_total", labels)
        assert waits is not None
        assert waits > before
        assert waited is not None
        assert waited > 0
        exposition = metrics.exposition().decode()
        assert 'memcore_pool_wait_seconds_total{backend="redis"}' in exposition
        assert 'memcore_pool_connections{backend="redis",state="max"} 1.0' in exposition


async def test_pool_stats_count_connections_by_state(make_store: StoreFactory) -> None:
    """What memcore_pool_connections exports: in use, idle (open and free) and the size."""
    store = make_store(max_connections=3)
    await store.ensure_schema(SCHEMA)
    held = await store._pool.get_connection()
    try:
        assert store.pool_stats() == {"in_use": 1, "idle": 0, "max": 3}
    finally:
        await store._pool.release(held)
    assert store.pool_stats() == {"in_use": 0, "idle": 1, "max": 3}
