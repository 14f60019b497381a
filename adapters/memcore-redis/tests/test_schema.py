"""Schema lifecycle: create once, never rebuild, refuse mismatches, name missing modules."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from memcore.domain import EmbeddingSchema, SearchFilter
from memcore.errors import (
    ConfigurationError,
    IndexCreationError,
    SchemaMismatchError,
    StoreError,
)
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.commands import call
from memcore_redis.layout import HashLayout
from memcore_redis.testing import EmbeddedRedis

from .conftest import StoreFactory


async def test_a_restart_keeps_the_index_and_the_data(
    make_store: StoreFactory, raw_redis: aioredis.Redis
) -> None:
    first = make_store()
    await first.ensure_schema(SCHEMA)
    await first.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=1))
    # An alias lives as long as its index: if the index were rebuilt, it would be gone.
    alias = f"{first.index_name}-alias"
    await call(raw_redis, "FT.ALIASADD", alias, first.index_name)
    await first.aclose()

    second = make_store(key_prefix=first.settings.key_prefix)
    await second.ensure_schema(SCHEMA)
    assert [r.id for r in await second.get("u", ["i1"])] == ["i1"]
    hits = await second.search("u", unit_vectors(1, seed=1)[0], 1, SearchFilter())
    assert [hit.record.id for hit in hits] == ["i1"]
    assert await call(raw_redis, "FT.SEARCH", alias, "*", "LIMIT", 0, 0) == [1]
    await call(raw_redis, "FT.ALIASDEL", alias)

    meta = json.loads(await raw_redis.get(f"{first.settings.key_prefix}:meta") or "null")
    assert meta == {"schema_version": HashLayout.version, **_meta(first)}


async def test_data_in_an_older_format_is_refused_naming_both_versions(
    make_store: StoreFactory, raw_redis: aioredis.Redis
) -> None:
    """JSON documents of version 3 (one-letter fields) cannot be read by version 4."""
    first = make_store(storage_type="json")
    await first.ensure_schema(SCHEMA)
    older = {**_meta(first), "schema_version": 3}
    await raw_redis.set(f"{first.settings.key_prefix}:meta", json.dumps(older))
    second = make_store(storage_type="json", key_prefix=first.settings.key_prefix)
    with pytest.raises(StoreError, match=r"schema version 3 \(storage_type='json'\).*version 4"):
        await second.ensure_schema(SCHEMA)


def _meta(store: RedisStore) -> dict[str, object]:
    return {
        "dimension": SCHEMA.dimension,
        "model": SCHEMA.model,
        "storage_type": store.settings.storage_type,
        "vector_datatype": "FLOAT32",
        "index": store.index_name,
    }


async def test_a_new_embedder_is_refused_with_both_sides_named(make_store: StoreFactory) -> None:
    store = make_store()
    await store.ensure_schema(SCHEMA)
    other = make_store(key_prefix=store.settings.key_prefix)
    with pytest.raises(SchemaMismatchError) as raised:
        await other.ensure_schema(EmbeddingSchema(dimension=384, model="all-MiniLM-L6-v2"))
    message = str(raised.value)
    assert "16 dims of 'memcore-contract-v1'" in message
    assert "384 dims of 'all-MiniLM-L6-v2'" in message


async def test_an_index_changed_behind_our_back_is_refused(
    make_store: StoreFactory, raw_redis: aioredis.Redis
) -> None:
    store = make_store()
    await store.ensure_schema(SCHEMA)
    await call(raw_redis, "FT.DROPINDEX", store.index_name)
    await call(
        raw_redis,
        "FT.CREATE",
        store.index_name,
        "ON",
        "HASH",
        "PREFIX",
        1,
        "elsewhere:",
        "SCHEMA",
        "vector",
        "VECTOR",
        "FLAT",
        6,
        "TYPE",
        "FLOAT32",
        "DIM",
        8,
        "DISTANCE_METRIC",
        "COSINE",
    )
    with pytest.raises(SchemaMismatchError, match="an index of 8 dims"):
        await make_store(key_prefix=store.settings.key_prefix).ensure_schema(SCHEMA)


async def test_other_storage_settings_on_existing_data_are_refused(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await store.ensure_schema(SCHEMA)
    other = make_store(key_prefix=store.settings.key_prefix, vector_datatype="FLOAT16")
    with pytest.raises(ConfigurationError) as raised:
        await other.ensure_schema(SCHEMA)
    assert raised.value.setting == "MEMCORE_REDIS_VECTOR_DATATYPE"


async def test_index_creation_failure_raises_index_creation_error(
    make_store: StoreFactory, raw_redis: aioredis.Redis
) -> None:
    user, password = f"nocreate{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await call(raw_redis, "ACL", "SETUSER", user, "on", f">{password}", "~*", "+@all", "-FT.CREATE")
    try:
        store = make_store(username=user, password=password)
        with pytest.raises(IndexCreationError, match="cannot create index"):
            await store.ensure_schema(SCHEMA)
    finally:
        await call(raw_redis, "ACL", "DELUSER", user)


@pytest.fixture(scope="module")
def search_only_server() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(modules=("search",)) as server:
        yield server


@pytest.fixture(scope="module")
def bare_server() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(modules=()) as server:
        yield server


async def test_a_server_without_search_names_the_module(bare_server: EmbeddedRedis) -> None:
    store = RedisStore(RedisSettings(url=bare_server.url))
    try:
        with pytest.raises(IndexCreationError, match="RediSearch"):
            await store.ensure_schema(SCHEMA)
        check = await store.health()
        assert check.status.value == "unhealthy"
        assert "RediSearch" in check.detail
    finally:
        await store.aclose()


async def test_json_storage_without_json_names_the_module(
    search_only_server: EmbeddedRedis,
) -> None:
    store = RedisStore(RedisSettings(url=search_only_server.url, storage_type="json"))
    try:
        with pytest.raises(IndexCreationError, match="RedisJSON"):
            await store.ensure_schema(SCHEMA)
    finally:
        await store.aclose()
    hash_store = RedisStore(RedisSettings(url=search_only_server.url, key_prefix="h"))
    try:
        await hash_store.ensure_schema(SCHEMA)  # hash storage needs only search
    finally:
        await hash_store.aclose()
