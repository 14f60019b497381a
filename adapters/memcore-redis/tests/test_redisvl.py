"""The stored layout read by standard tools: RedisVL and plain FT.SEARCH, hash and JSON.

An operator's filters use the API's names and values as they are (docs/adapters/redis.md):
the RedisVL recipe of its operator page runs here, and RedisVL opens an index that
``memcore migrate`` moved to the readable layout. RedisVL is installed in a tox env of its
own (``tox -e redisvl``), not in the adapter's (``redis``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import redis.asyncio as aioredis
from redisvl.index import SearchIndex
from redisvl.query import FilterQuery, VectorQuery
from redisvl.query.filter import Tag

from memcore.domain import Outcome
from memcore.ports import UnitVectors
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention, reflection
from memcore_redis.commands import call

from .conftest import StoreFactory
from .test_migrate import migrate, old_store, records_of_two_users, write_old
from .test_operator_recipes import PYTHON, write_recipe_records

# Users a loose match would confuse: case, accents, a space, a prefix.
USERS = ("José Pérez", "josé pérez", "José", "Pérez", "Jose Perez")


@pytest.fixture(params=["hash", "json"])
def storage_type(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _written(make_store: StoreFactory, storage_type: str) -> tuple[str, str]:
    """Three records per user (the same ids and vectors for each); the index and prefix."""
    store = make_store(storage_type=storage_type)
    await store.ensure_schema(SCHEMA)
    vectors = unit_vectors(3, seed=21)
    for user in USERS:
        records = [
            replace(intervention(user, 1), task="calm_down", outcome=Outcome.TASK_COMPLETED),
            replace(intervention(user, 2), task="Calm down, now", outcome=Outcome.ESCALATED),
            reflection(user, 3),
        ]
        await store.upsert(user, records, UnitVectors(vectors))
    return store.index_name, store.settings.key_prefix


async def test_redisvl_opens_the_index_and_a_user_filter_returns_exactly_that_user(
    make_store: StoreFactory, redis_server_url: str, storage_type: str
) -> None:
    index_name, _ = await _written(make_store, storage_type)
    index = SearchIndex.from_existing(index_name, redis_url=redis_server_url)
    # The texts are not index attributes: a hash returns them by name, JSON by path.
    texts = ["intervention_text", "text"]
    if storage_type == "json":
        texts = [f"$.{name}" for name in texts]
    fields = set(index.schema.field_names)
    api = {"user_id", "kind", "outcome", "task", "agent_id", "session_id", "created_at", "vector"}
    assert api <= fields
    query = VectorQuery(
        vector=unit_vectors(1, seed=3)[0].tolist(),
        vector_field_name="vector",
        return_fields=["user_id", "kind", "task", *texts],
        filter_expression=Tag("user_id") == "José Pérez",
        num_results=50,
    )
    rows = index.query(query)
    assert sorted(row["user_id"] for row in rows) == ["José Pérez"] * 3
    assert sorted(row["kind"] for row in rows) == ["intervention", "intervention", "reflection"]
    assert {row.get(texts[0]) or row.get(texts[1]) for row in rows} == {
        intervention("u", 1).intervention_text,
        intervention("u", 2).intervention_text,
        reflection("u", 3).text,
    }
    index.disconnect()


async def test_plain_filters_use_the_api_names_and_values(
    make_store: StoreFactory, raw_redis: aioredis.Redis, storage_type: str
) -> None:
    index, _ = await _written(make_store, storage_type)

    async def count(query: str) -> int:
        return int(
            (await call(raw_redis, "FT.SEARCH", index, query, "LIMIT", 0, 0, "DIALECT", 2))[0]
        )

    assert await count("@outcome:{task_completed}") == len(USERS)
    assert await count("@task:{calm_down}") == len(USERS)
    assert await count(r"@task:{Calm\ down\,\ now}") == len(USERS)
    assert await count(r"@task:{calm\ down\,\ now}") == 0  # case-sensitive
    assert await count(r"@user_id:{José\ Pérez}") == 3
    assert await count(r"@user_id:{José\ Pérez} @kind:{reflection}") == 1
    assert await count("@created_at:[-inf +inf]") == 3 * len(USERS)


async def test_a_stored_record_reads_as_its_api_fields(
    make_store: StoreFactory, raw_redis: aioredis.Redis
) -> None:
    _, prefix = await _written(make_store, "hash")
    keys = [key async for key in raw_redis.scan_iter(match=f"{prefix}:*:i1", count=1000)]
    stored = await raw_redis.hgetall(next(key for key in keys if b"{Jos" not in key))
    # No metadata: empty fields are left out.
    assert {name.decode() for name in stored} == {
        "kind", "user_id", "intervention_text", "task", "context", "outcome", "created_at",
        "created_at_iso", "vector",
    }  # fmt: skip
    assert stored[b"kind"] == b"intervention"
    assert stored[b"task"] == b"calm_down"
    assert stored[b"intervention_text"].decode() == intervention("u", 1).intervention_text
    assert stored[b"outcome"] == b"task_completed"
    assert stored[b"created_at_iso"] == b"2025-01-01T00:01:00+00:00"
    assert np.frombuffer(stored[b"vector"], dtype=np.float32).shape == (SCHEMA.dimension,)


@pytest.mark.parametrize("storage", ["hash", "json"])
async def test_the_operator_pages_redisvl_recipe_returns_that_users_records(
    make_store: StoreFactory, redis_server_url: str, storage: str
) -> None:
    await write_recipe_records(make_store, storage)
    namespace: dict[str, object] = {"REDIS_URL": redis_server_url}
    exec(PYTHON, namespace)  # noqa: S102 - the documented snippet, as written
    rows = namespace["rows"]
    assert isinstance(rows, list)
    assert sorted(row["kind"] for row in rows) == ["intervention", "reflection"]
    if storage == "hash":  # JSON returns texts by path (the page says so)
        assert {row.get("intervention_text") for row in rows} == {"Suggested a short walk", None}
    namespace["index"].disconnect()  # type: ignore[attr-defined]


async def test_redisvl_opens_a_migrated_index_through_its_alias(
    raw_redis: aioredis.Redis, make_store: StoreFactory, storage_type: str
) -> None:
    store = await old_store(raw_redis, make_store, storage_type)
    records = records_of_two_users(12)
    await write_old(raw_redis, store, records, seed=1)
    assert (await migrate(store))["status"] == "migrated"
    index = SearchIndex.from_existing(store.settings.index, redis_url=store.settings.url)
    rows = index.query(FilterQuery(Tag("user_id") == "José Pérez", ["kind"], num_results=50))
    assert len(rows) == sum(r.user_id == "José Pérez" for r in records)
    index.disconnect()
