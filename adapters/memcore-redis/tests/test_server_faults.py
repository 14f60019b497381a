"""Pools, health and errors against servers that come and go."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from memcore.domain import SearchFilter
from memcore.errors import StoreError, StoreUnavailableError
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
