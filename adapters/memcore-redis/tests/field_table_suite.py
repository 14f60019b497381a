"""The field-table contract on Redis and on a Redis Cluster, hash and JSON, run by
test_field_table.py in a process of its own: the Redis store works its field plan out when
memcore_redis is imported, so the added field must be in the table first, as a field
declared in memcore.domain.records is.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from memcore.domain import RecordKind
from memcore.domain.records import RECORD_TYPES
from memcore.testing import AddedFieldContract, MoodIntervention

RECORD_TYPES[RecordKind.INTERVENTION] = MoodIntervention  # before memcore_redis reads the table

from memcore_redis import RedisSettings, RedisStore  # noqa: E402
from memcore_redis.cluster import RedisClusterStore  # noqa: E402
from memcore_redis.testing import EmbeddedCluster  # noqa: E402

URL = os.environ["MEMCORE_TEST_REDIS_URL"]


async def _store(storage_type: str) -> AsyncIterator[RedisStore]:
    prefix = f"f{uuid.uuid4().hex[:12]}"
    store = RedisStore(RedisSettings(url=URL, key_prefix=prefix, storage_type=storage_type))
    yield store
    await store.forget_user("u")
    await store.aclose()


class TestHashFollowsTheFieldTable(AddedFieldContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[RedisStore]:
        async for store in _store("hash"):
            yield store


class TestJsonFollowsTheFieldTable(AddedFieldContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[RedisStore]:
        async for store in _store("json"):
            yield store


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedCluster]:
    with EmbeddedCluster(primaries=2) as running:
        yield running


@pytest.fixture(params=["hash", "json"])
async def cluster_store(
    cluster: EmbeddedCluster, request: pytest.FixtureRequest
) -> AsyncIterator[RedisClusterStore]:
    prefix = f"f{uuid.uuid4().hex[:12]}"
    store = RedisClusterStore(
        RedisSettings(url=cluster.url, key_prefix=prefix, storage_type=request.param)
    )
    yield store
    await store.forget_user("u")
    await store.aclose()


class TestClusterFollowsTheFieldTable(AddedFieldContract):
    @pytest.fixture
    async def store(self, cluster_store: RedisClusterStore) -> RedisClusterStore:
        return cluster_store
