"""Shared fixtures: every store gets its own key prefix and index on the session server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from memcore_redis import RedisSettings, RedisStore
from memcore_redis.commands import call

# redis_server_url: the session's server (memcore_redis.testing loads only when asked);
# pytester: the test that it does not load on its own.
pytest_plugins = ["memcore_redis.testing.fixtures", "pytester"]

StoreFactory = Callable[..., RedisStore]


async def index_refusing_vectors(
    raw_redis: aioredis.Redis, store: RedisStore, dimension: int
) -> None:
    """Rebuild ``store``'s index (someone else did) for vectors of ``dimension``: the
    records the store writes after that are stored but not indexed.
    """
    on = "JSON" if store.settings.storage_type == "json" else "HASH"
    field = ["$.user_id" if on == "JSON" else "user_id", "AS", "user_id"]
    vector = ["$.vector" if on == "JSON" else "vector", "AS", "vector"]
    prefix = f"{store.settings.key_prefix}:{{"
    await call(raw_redis, "FT.DROPINDEX", store.index_name)
    await call(
        raw_redis, "FT.CREATE", store.index_name, "ON", on, "PREFIX", 1, prefix, "SCHEMA",
        *field, "TAG", *vector, "VECTOR", "FLAT", 6, "TYPE", "FLOAT32", "DIM", dimension,
        "DISTANCE_METRIC", "COSINE",
    )  # fmt: skip


@pytest.fixture
async def raw_redis(redis_server_url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client for looking behind the store's back."""
    client = aioredis.Redis.from_url(redis_server_url, protocol=2)
    yield client
    await client.aclose()


@pytest.fixture
async def make_store(
    redis_server_url: str, raw_redis: aioredis.Redis
) -> AsyncIterator[StoreFactory]:
    """Build stores on a fresh prefix; drop their indexes and keys afterwards."""
    stores: list[RedisStore] = []
    prefixes: set[str] = set()

    def make(**overrides: Any) -> RedisStore:
        overrides.setdefault("key_prefix", f"t{uuid.uuid4().hex[:12]}")
        settings = RedisSettings(url=redis_server_url, **overrides)
        prefixes.add(settings.key_prefix)
        store = RedisStore(settings)
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.aclose()
    for prefix in prefixes:
        for index in await call(raw_redis, "FT._LIST"):
            if index.decode().startswith(prefix):
                await call(raw_redis, "FT.DROPINDEX", index, "DD")
        keys = [key async for key in raw_redis.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await raw_redis.delete(*keys)


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outboxes, snapshots and epochs of a test go to its own directory, not the home one."""
    monkeypatch.setenv("MEMCORE_STATE_DIR", str(tmp_path_factory.mktemp("state")))
