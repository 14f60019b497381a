"""Native expiry on the real server: the key carries the record's expires_at, the index
drops the document once the server deletes it, and a rewrite without one clears it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from memcore.domain import utcnow
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention
from memcore_redis.commands import call
from memcore_redis.encoding import record_key

from .conftest import StoreFactory


@pytest.mark.parametrize("storage_type", ["hash", "json"])
async def test_the_index_drops_an_expired_record(
    make_store: StoreFactory, raw_redis: aioredis.Redis, storage_type: str
) -> None:
    store = make_store(storage_type=storage_type)
    await store.ensure_schema(SCHEMA)
    soon = utcnow() + timedelta(seconds=1)
    records = [replace(intervention("u", 1), expires_at=soon), intervention("u", 2)]
    await store.upsert("u", records, unit_vectors(2, seed=1))
    prefix = store.settings.key_prefix
    expiring, staying = (record_key(prefix, "u", r.id) for r in records)
    assert await call(raw_redis, "PEXPIRETIME", expiring) == int(soon.timestamp() * 1000)
    assert await call(raw_redis, "PEXPIRETIME", staying) == -1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = await call(raw_redis, "FT.SEARCH", store.index_name, "*", "NOCONTENT")
        if found[0] == 1:
            break
        await asyncio.sleep(0.2)
    assert found[1:] == [staying.encode()]
    assert await call(raw_redis, "EXISTS", expiring) == 0
