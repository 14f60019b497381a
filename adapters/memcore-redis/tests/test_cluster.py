"""RedisClusterStore on a real three-primary cluster (embedded valkey nodes with the modules).

The whole store contract (HASH and JSON), plus what only a cluster can show: each user's
records on the one primary that owns the user's slot, and a user whose slot moves to
another primary (resharding) found there, nothing lost or doubled.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from memcore.domain import EmbeddingSchema, HealthStatus, SearchFilter, Status
from memcore.errors import SchemaMismatchError, StoreUnavailableError
from memcore.registry import stores
from memcore.settings import MemcoreSettings
from memcore.testing import StoreContract
from memcore.testing._suite import intervention, unit_vectors
from memcore_redis import RedisSettings
from memcore_redis.cluster import RedisClusterStore, _node_settings, _on_all
from memcore_redis.commands import call
from memcore_redis.encoding import user_key_prefix
from memcore_redis.query import filter_query
from memcore_redis.testing import EmbeddedCluster

SCHEMA = EmbeddingSchema(dimension=8, model="cluster-test")


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedCluster]:
    with EmbeddedCluster(primaries=3) as running:
        yield running


@pytest.fixture(params=["hash", "json"])
async def cluster_store(
    cluster: EmbeddedCluster, request: pytest.FixtureRequest
) -> AsyncIterator[RedisClusterStore]:
    settings = RedisSettings(
        url=cluster.url, key_prefix=f"c{uuid.uuid4().hex[:10]}", storage_type=request.param
    )
    store = RedisClusterStore(settings)
    yield store
    prefix = store.settings.key_prefix
    await store.aclose()
    for node in cluster.nodes:
        client = aioredis.Redis.from_url(node.url, protocol=2)
        for index in await call(client, "FT._LIST"):
            if index.decode().startswith(prefix):
                await call(client, "FT.DROPINDEX", index, "DD")
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            await client.delete(key)  # one by one: the keys of a node span many slots
        await client.aclose()


class TestClusterStore(StoreContract):
    """The whole contract, in both storage layouts."""

    @pytest.fixture
    async def store(self, cluster_store: RedisClusterStore) -> RedisClusterStore:
        return cluster_store


async def _write(store: RedisClusterStore, user: str, count: int) -> None:
    records = [intervention(user, n) for n in range(count)]
    await store.upsert(user, records, unit_vectors(count, seed=hash(user) % 1000, dimension=8))


async def test_each_user_lives_on_the_primary_that_owns_its_slot(
    cluster: EmbeddedCluster, cluster_store: RedisClusterStore
) -> None:
    await cluster_store.ensure_schema(SCHEMA)
    assert len(cluster_store.primaries) == 3
    users = [f"user-{n}" for n in range(24)]
    for user in users:
        await _write(cluster_store, user, 5)
    slot_map = RedisCluster.from_url(cluster.url, protocol=2)
    try:
        await slot_map.initialize()
        per_node = dict.fromkeys(cluster_store.primaries, 0)
        for user in users:
            owner = slot_map.get_node_from_key(
                user_key_prefix(cluster_store.settings.key_prefix, user)
            ).name
            for name, node_store in cluster_store.primaries.items():
                # Each node's own index, asked directly: only the owner holds the user.
                node = slot_map.get_node(node_name=name)
                reply = await slot_map.execute_command(
                    "FT.SEARCH", node_store.index_name, filter_query(user, SearchFilter()),
                    "NOCONTENT", "LIMIT", 0, 0, "DIALECT", 2, target_nodes=node,
                )  # fmt: skip
                assert reply[0] == (5 if name == owner else 0)
                if name != owner:  # and the store's own view of a node it does not own
                    with pytest.raises(StoreUnavailableError):
                        await node_store.count(user, SearchFilter())
            per_node[owner] += 1
    finally:
        await slot_map.aclose()
    assert all(per_node.values()), per_node  # 24 users spread over all three primaries
    every = await cluster_store.user_ids()
    assert (every, every.status) == (sorted(users), Status.COMPLETE)
    health = await cluster_store.health()
    assert health.status is HealthStatus.HEALTHY, health.detail
    assert health.facts["primaries"] == 3
    assert sum(
        int(value) for fact, value in health.facts.items() if fact.endswith(" num_docs")
    ) == 5 * len(users)


async def test_user_ids_say_partial_while_a_primarys_index_is_rebuilt(
    cluster: EmbeddedCluster, cluster_store: RedisClusterStore
) -> None:
    await cluster_store.ensure_schema(SCHEMA)
    users = sorted(["heavy", *(f"light-{n}" for n in range(6))])
    for user in users:
        await _write(cluster_store, user, 1_500 if user == "heavy" else 2)
    assert (await cluster_store.user_ids()).complete
    prefix = cluster_store.settings.key_prefix
    for node in cluster.nodes:  # dropped underneath, records kept, on every primary
        client = aioredis.Redis.from_url(node.url, protocol=2)
        for index in await call(client, "FT._LIST"):
            if index.decode().startswith(prefix):
                await call(client, "FT.DROPINDEX", index)
        await client.aclose()
    statuses = []
    while Status.COMPLETE not in statuses:  # the first call recreates each index
        found = await cluster_store.user_ids()
        assert found == users  # each primary's SCAN finds its users the index misses
        statuses.append(found.status)
    assert statuses[0] is Status.PARTIAL  # the heavy user's primary still scanning
    assert set(statuses[:-1]) == {Status.PARTIAL}


async def test_a_user_whose_slot_moves_is_found_on_the_new_primary(
    cluster: EmbeddedCluster, cluster_store: RedisClusterStore
) -> None:
    await cluster_store.ensure_schema(SCHEMA)
    user = "mover"
    await _write(cluster_store, user, 6)
    query = unit_vectors(1, seed=3, dimension=8)[0]
    before = [hit.record.id for hit in await cluster_store.search(user, query, 6, SearchFilter())]
    assert len(before) == 6

    await _move_slot(cluster, user_key_prefix(cluster_store.settings.key_prefix, user))

    # The store still routes by the old slot map: the old owner answers MOVED, the store
    # re-reads the map (once for all the calls that met the MOVED together) and asks the
    # new owner, whose index picked the keys up.
    maps_read = cluster_store._map_version
    searches = [cluster_store.search(user, query, 6, SearchFilter()) for _ in range(8)]
    for after in await asyncio.gather(*searches):
        assert [hit.record.id for hit in after] == before
    assert cluster_store._map_version == maps_read + 1
    await _write(cluster_store, user, 6)  # the same ids again: replaced, not doubled
    assert await cluster_store.count(user, SearchFilter()) == 6
    assert await cluster_store.forget_user(user) == 6


async def _move_slot(cluster: EmbeddedCluster, key: str) -> None:
    """Migrate the slot of ``key``, with its keys, to another primary (as resharding does)."""
    clients = {node.port: aioredis.Redis.from_url(node.url, protocol=2) for node in cluster.nodes}
    try:
        any_client = next(iter(clients.values()))
        slot = int(await call(any_client, "CLUSTER", "KEYSLOT", key))
        ids = {}
        owner = None
        for port, client in clients.items():
            ids[port] = (await call(client, "CLUSTER", "MYID")).decode()
            if await call(client, "CLUSTER", "COUNTKEYSINSLOT", slot):
                owner = port
        assert owner is not None
        target = next(port for port in clients if port != owner)
        source, destination = clients[owner], clients[target]
        await call(destination, "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[owner])
        await call(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
        keys = await call(source, "CLUSTER", "GETKEYSINSLOT", slot, 1000)
        await call(source, "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
        for client in clients.values():
            await call(client, "CLUSTER", "SETSLOT", slot, "NODE", ids[target])
        moved = np.array([await call(c, "CLUSTER", "COUNTKEYSINSLOT", slot) for c in (source,)])
        assert not moved.any()
    finally:
        for client in clients.values():
            await client.aclose()


async def test_the_registry_builds_the_cluster_store_from_the_environment(
    cluster: EmbeddedCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMCORE_REDIS_URL", cluster.url)
    monkeypatch.setenv("MEMCORE_REDIS_KEY_PREFIX", f"r{uuid.uuid4().hex[:10]}")
    store = stores.create(MemcoreSettings(), "redis-cluster")
    try:
        assert isinstance(store, RedisClusterStore)
        await store.ensure_schema(SCHEMA)
        assert sorted(store.primaries) == sorted(f"127.0.0.1:{n.port}" for n in cluster.nodes)
        slot_map = RedisCluster.from_url(cluster.url, protocol=2)
        await slot_map.initialize()
        for name, node_store in store.primaries.items():
            # Each index is named with the smallest integer tag of its own node's slots.
            tag = node_store.hash_tag
            assert node_store.index_name == f"{store.settings.key_prefix}-idx{{{tag}}}"
            assert slot_map.get_node_from_key(f"{{{tag}}}").name == name
            smaller = (slot_map.get_node_from_key(f"{{{n}}}").name for n in range(int(tag)))
            assert name not in smaller
        await slot_map.aclose()
    finally:
        await store.aclose()


def test_each_primary_is_reached_with_the_seed_urls_scheme_and_credentials() -> None:
    seed = RedisSettings(url="rediss://app:s3cret@seed.example:7000/0")
    node = _node_settings(seed, "10.0.0.2:7001")
    assert node.url == "rediss://app:s3cret@10.0.0.2:7001/0"
    assert node.model_copy(update={"url": seed.url}) == seed


async def test_a_failure_on_one_primary_is_raised_after_the_others_end() -> None:
    """Otherwise the others would run on into connections the caller is closing."""
    ended: list[str] = []

    async def fails() -> None:
        raise SchemaMismatchError("one primary disagrees", expected="a", actual="b")

    async def slow() -> None:
        await asyncio.sleep(0.05)
        ended.append("slow")

    with pytest.raises(SchemaMismatchError):
        await _on_all([fails(), slow()])
    assert ended == ["slow"]


async def test_pool_stats_add_up_the_primaries_pools(cluster_store: RedisClusterStore) -> None:
    assert cluster_store.pool_stats() == {"in_use": 0, "idle": 0, "max": 0}  # no primary yet
    await cluster_store.ensure_schema(SCHEMA)
    stats = cluster_store.pool_stats()
    assert stats["max"] == 3 * cluster_store.settings.max_connections
    assert stats["in_use"] == 0
    assert stats["idle"] >= 3  # each primary answered ensure_schema
