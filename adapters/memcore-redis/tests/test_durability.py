"""Data-loss detection, persistence warnings, and clients that never re-send commands."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from memcore.domain import HealthStatus, SearchFilter
from memcore.errors import DataLossError, StoreUnavailableError
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.client import connection_pool
from memcore_redis.testing_server import EmbeddedRedis, free_port

from .conftest import StoreFactory


@pytest.fixture
def own_server() -> Iterator[EmbeddedRedis]:
    """A server without persistence this test may restart on the same port."""
    with EmbeddedRedis(port=free_port()) as server:
        yield server


async def test_a_restart_that_lost_the_data_stops_every_call(own_server: EmbeddedRedis) -> None:
    store = RedisStore(RedisSettings(url=own_server.url, socket_timeout=2))
    await store.ensure_schema(SCHEMA)
    await store.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=1))
    own_server.stop()
    own_server.start()  # same port, empty: what a restart without persistence looks like
    with pytest.raises(StoreUnavailableError):
        await store.count("u", SearchFilter())  # the pooled connection died with the server
    with pytest.raises(DataLossError, match="lost data it had acknowledged"):
        await store.count("u", SearchFilter())  # the reconnect notices
    with pytest.raises(DataLossError):  # and it stays stopped, whatever the next call is
        await store.upsert("u", [intervention("u", 2)], unit_vectors(1, seed=2))
    assert (await store.health()).status is HealthStatus.UNHEALTHY
    await store.aclose()


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


async def test_risky_server_settings_are_warned_about(
    make_store: StoreFactory, raw_redis: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    policy = (await raw_redis.config_get("maxmemory-policy"))["maxmemory-policy"]
    await raw_redis.config_set("maxmemory-policy", "allkeys-lru")
    try:
        with caplog.at_level(logging.WARNING, logger="memcore_redis"):
            await make_store().ensure_schema(SCHEMA)
    finally:
        await raw_redis.config_set("maxmemory-policy", policy)
    assert "no persistence" in caplog.text  # the test server runs without
    assert "maxmemory-policy allkeys-lru" in caplog.text


def test_connections_never_resend_commands_by_themselves() -> None:
    pool = connection_pool(RedisSettings(url="redis://127.0.0.1:1/0"))
    connection = pool.make_connection()
    assert connection.retry._retries == 0
