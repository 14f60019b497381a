"""Data-loss detection, the redo of recent writes, persistence warnings, and clients
that never re-send commands.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from memcore.domain import HealthStatus, SearchFilter
from memcore.errors import DataLossError, StoreUnavailableError
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.client import connection_pool
from memcore_redis.redo import RedoLog
from memcore_redis.testing import EmbeddedRedis, free_port

from .conftest import StoreFactory
from .faults.server import FaultServer


@pytest.fixture
def own_server() -> Iterator[EmbeddedRedis]:
    """A server without persistence this test may restart on the same port."""
    with EmbeddedRedis(port=free_port()) as server:
        yield server


async def test_a_restart_that_lost_the_data_stops_every_call(own_server: EmbeddedRedis) -> None:
    store = RedisStore(RedisSettings(url=own_server.url, socket_timeout=2, redo_window=0.05))
    await store.ensure_schema(SCHEMA)
    await store.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=1))
    await asyncio.sleep(0.1)
    await store.upsert("u", [intervention("u", 2)], unit_vectors(1, seed=2))  # the first left
    own_server.stop()  # the redo window with this write: the log no longer holds them all
    own_server.start()  # same port, empty: what a restart without persistence looks like
    with pytest.raises(StoreUnavailableError):
        await store.count("u", SearchFilter())  # the pooled connection died with the server
    with pytest.raises(DataLossError, match="lost data it had acknowledged"):
        await store.count("u", SearchFilter())  # the reconnect notices
    with pytest.raises(DataLossError):  # and it stays stopped, whatever the next call is
        await store.upsert("u", [intervention("u", 3)], unit_vectors(1, seed=3))
    assert (await store.health()).status is HealthStatus.UNHEALTHY
    await store.aclose()


async def test_a_restart_that_lost_only_writes_in_the_redo_log_is_redone(
    own_server: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(RedisSettings(url=own_server.url, socket_timeout=2))
    await store.ensure_schema(SCHEMA)
    records = [intervention("u", n) for n in range(3)]
    vectors = unit_vectors(3, seed=1)
    await store.upsert("u", records, vectors)  # one batch: MULTI/EXEC on the redo too
    await store.delete("u", ["i0"])
    own_server.stop()
    own_server.start()  # empty, but everything since this store's start is in its log
    with pytest.raises(StoreUnavailableError):
        await store.count("u", SearchFilter())
    with caplog.at_level(logging.WARNING, logger="memcore_redis"):
        assert await store.count("u", SearchFilter()) == 2  # index, records, the delete
    assert "epoch key lost, every write was in the redo log" in caplog.text
    hits = await store.search("u", vectors[2], 1, SearchFilter())
    assert [hit.record.id for hit in hits] == ["i2"]
    await store.aclose()


@pytest.mark.parametrize("window", [0.0, 5.0], ids=["no redo", "redo"])
async def test_writes_the_aof_lost_are_sent_again_after_a_restart(
    tmp_path: Path, window: float
) -> None:
    """A kill while a slow disk postponed the AOF loses acknowledged writes: here the
    AOF (fsynced before each reply) is cut back to before the second write.
    """
    server = FaultServer(tmp_path, appendfsync="always").start()
    store = RedisStore(RedisSettings(url=server.url, socket_timeout=2, redo_window=window))
    try:
        await store.ensure_schema(SCHEMA)
        await store.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=1))
        kept = server.aof_written
        await store.upsert("u", [intervention("u", 2)], unit_vectors(1, seed=2))
        server.kill()
        assert server.drop_aof_after(kept) > 0
        server.start()
        with pytest.raises(StoreUnavailableError):
            await store.count("u", SearchFilter())
        page = await store.list("u", SearchFilter(), 10)
        assert [record.id for record in page.items] == (["i1", "i2"] if window else ["i1"])
    finally:
        await store.aclose()
        server.stop()


def test_the_redo_log_keeps_the_window_before_the_latest_write(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = RedoLog(window=60, capacity=3)
    log.add([("DEL", "a")])
    log.add([("DEL", "b"), ("DEL", "c")])
    assert (len(log), log.covers_all) == (3, True)
    with caplog.at_level(logging.WARNING, logger="memcore_redis"):
        log.add([("DEL", "d")])  # over capacity inside the window: the oldest goes, warned
    assert (len(log), log.covers_all) == (3, False)
    assert "redo log full" in caplog.text
    idle = RedoLog(window=0.01, capacity=10)
    idle.add([("DEL", "a")])
    time.sleep(0.02)
    assert len(idle) == 1  # an idle store keeps its last writes, however long ago
    idle.add([("DEL", "b")])  # the window is counted back from the latest write
    assert (len(idle), idle.covers_all) == (1, False)
    off = RedoLog(window=0, capacity=10)
    off.add([("DEL", "a")])
    assert (len(off), off.covers_all) == (0, False)


async def test_a_restart_that_kept_the_data_carries_on(make_store: StoreFactory) -> None:
    store = make_store()
    await store.ensure_schema(SCHEMA)
    guard = store._guard
    guard.run_id = "an-earlier-run"  # as if the server had restarted since start-up
    await store._pool.disconnect()
    assert await store.count("u", SearchFilter()) == 0
    assert guard.run_id != "an-earlier-run"


async def test_keys_deleted_underneath_are_noticed_at_start(
    make_store: StoreFactory, raw_redis: aioredis.Redis
) -> None:
    first = make_store()
    await first.ensure_schema(SCHEMA)
    await raw_redis.delete(f"{first.settings.key_prefix}:epoch")
    second = make_store(key_prefix=first.settings.key_prefix)
    with pytest.raises(DataLossError, match="epoch key was missing"):
        await second.ensure_schema(SCHEMA)


async def test_risky_server_settings_are_warned_about_once_per_process(
    own_server: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    raw = aioredis.Redis.from_url(own_server.url, protocol=2)
    await raw.config_set("maxmemory-policy", "allkeys-lru")
    stores = [RedisStore(RedisSettings(url=own_server.url, key_prefix=p)) for p in "ab"]
    with caplog.at_level(logging.WARNING, logger="memcore_redis"):
        await stores[0].ensure_schema(SCHEMA)
        assert "no persistence" in caplog.text  # the test server runs without
        assert "maxmemory-policy allkeys-lru" in caplog.text
        caplog.clear()
        await stores[1].ensure_schema(SCHEMA)  # another store, same server: said already
    assert "no persistence" not in caplog.text
    for store in stores:
        await store.aclose()
    await raw.aclose()


def test_connections_never_resend_commands_by_themselves() -> None:
    pool = connection_pool(RedisSettings(url="redis://127.0.0.1:1/0"))
    connection = pool.make_connection()
    assert connection.retry._retries == 0
