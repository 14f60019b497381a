from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest

from conftest import load_example
from memcore import HealthStatus, Intervention, MemoryStore, SearchFilter
from memcore.adapters.memory import InMemoryStore
from memcore.testing import SCHEMA, StoreContract, unit_vectors

sharded = load_example("sharded_store")


class TestShardedStoreContract(StoreContract):
    """Three in-memory shards behind one ShardedStore keep every promise of the port."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        store = sharded.ShardedStore({f"s{n}": InMemoryStore() for n in range(3)})
        yield store
        await store.aclose()


def test_users_spread_over_shards_and_stay_put() -> None:
    store = sharded.ShardedStore({f"s{n}": InMemoryStore() for n in range(4)})
    users = [f"user-{n}" for n in range(4_000)]
    placement = {user: store.shard_name(user) for user in users}
    counts = Counter(placement.values())
    assert set(counts) == {"s0", "s1", "s2", "s3"}
    assert min(counts.values()) > 800  # about a quarter each
    assert placement == {user: store.shard_name(user) for user in users}


def test_adding_a_shard_moves_only_the_users_it_wins() -> None:
    three = sharded.ShardedStore({f"s{n}": InMemoryStore() for n in range(3)})
    four = sharded.ShardedStore({f"s{n}": InMemoryStore() for n in range(4)})
    users = [f"user-{n}" for n in range(4_000)]
    moved = [u for u in users if three.shard_name(u) != four.shard_name(u)]
    assert all(four.shard_name(u) == "s3" for u in moved)
    assert 0.15 < len(moved) / len(users) < 0.35  # about 1/4


async def test_a_user_lives_on_exactly_one_shard() -> None:
    shards = {f"s{n}": InMemoryStore() for n in range(3)}
    store = sharded.ShardedStore(shards)
    await store.ensure_schema(SCHEMA)
    users = [f"u{n}" for n in range(30)]
    for n, user in enumerate(users):
        record = Intervention(id="r1", user_id=user, intervention_text="hi", task="t")
        await store.upsert(user, [record], unit_vectors(1, seed=n))
    for user in users:
        holders = [name for name, shard in shards.items() if user in await shard.user_ids()]
        assert holders == [store.shard_name(user)]
    assert await store.user_ids() == sorted(users)
    assert await store.count("u1", SearchFilter()) == 1
    await store.aclose()


async def test_health_is_the_worst_shard() -> None:
    class Sick(InMemoryStore):
        async def health(self) -> sharded.HealthCheck:
            return sharded.HealthCheck("store", HealthStatus.UNHEALTHY, 1.0, "disk full")

    store = sharded.ShardedStore({"ok": InMemoryStore(), "bad": Sick()})
    await store.ensure_schema(SCHEMA)
    check = await store.health()
    assert check.status is HealthStatus.UNHEALTHY
    assert check.detail == "bad: disk full"
    assert check.facts == {"shards": 2, "unhealthy_shards": 1}
    await store.aclose()


async def test_on_two_embedded_redis_servers() -> None:
    pytest.importorskip("memcore_redis.testing", reason="agent-memcore-redis[server] not installed")
    with sharded.redis_shards(2) as shards:
        placement = await sharded.demo(shards)
    assert set(placement.values()) == {"redis-0", "redis-1"}
