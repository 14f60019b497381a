"""Write verification: validate before writing, detect what RediSearch failed to index."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import redis.asyncio as aioredis

from memcore.domain import SearchFilter
from memcore.errors import StoreError, ValidationError
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention

from .conftest import StoreFactory, index_refusing_vectors


async def test_the_tenancy_check_refuses_a_batch_before_writing(
    make_store: StoreFactory, raw_redis: aioredis.Redis
) -> None:
    """Vectors arrive validated (UnitVectors); the store keeps only the tenancy check."""
    store = make_store()
    await store.ensure_schema(SCHEMA)
    with pytest.raises(ValidationError, match="user_id"):
        await store.upsert("u", [intervention("u", 1), intervention("v", 2)], unit_vectors(2, 1))
    with pytest.raises(ValidationError, match="embedding"):
        await store.upsert("u", [intervention("u", 1)], unit_vectors(2, 1))
    assert await raw_redis.keys(f"{store.settings.key_prefix}:{{*") == []


@pytest.mark.parametrize("storage_type", ["hash", "json"])
async def test_a_record_the_index_rejects_is_reported_and_not_left_behind(
    make_store: StoreFactory, raw_redis: aioredis.Redis, storage_type: str
) -> None:
    """Someone rebuilt the index with another dimension: the write must not pass silently."""
    store = make_store(storage_type=storage_type)
    await store.ensure_schema(SCHEMA)
    await store.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=1))
    await index_refusing_vectors(raw_redis, store, SCHEMA.dimension * 2)
    with pytest.raises(StoreError, match="could not index") as raised:
        await store.upsert("u", [intervention("u", 2)], unit_vectors(1, seed=2))
    assert raised.value.user_id == "u"
    assert await store.get("u", ["i2"]) == []
    check = await store.health()
    assert check.status.value == "degraded"
    assert int(check.facts["indexing_failures"]) >= 1


async def test_a_batch_is_one_round_trip_and_last_write_of_an_id_wins(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await store.ensure_schema(SCHEMA)
    first, second = intervention("u", 1), intervention("u", 1, task="other")
    await store.upsert("u", [first, second], unit_vectors(2, seed=3))
    assert await store.get("u", ["i1"]) == [second]
    assert await store.count("u", SearchFilter()) == 1


@pytest.mark.parametrize("storage_type", ["hash", "json"])
async def test_created_at_keeps_its_utc_offset(make_store: StoreFactory, storage_type: str) -> None:
    store = make_store(storage_type=storage_type)
    await store.ensure_schema(SCHEMA)
    offsets = [timezone.utc, timezone(timedelta(hours=-5)), timezone(timedelta(minutes=330))]
    records = [
        replace(intervention("u", n), created_at=datetime(2025, 3, 4, 5, 6, 7, 89, tzinfo=tz))
        for n, tz in enumerate(offsets)
    ]
    await store.upsert("u", records, unit_vectors(3, seed=8))
    got = await store.get("u", ["i0", "i1", "i2"])
    assert [r.created_at.utcoffset() for r in got] == [r.created_at.utcoffset() for r in records]
    assert got == records
