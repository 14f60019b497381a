"""Application-level sharding: users spread over several stores, each a plain memcore store.

When one Redis is not enough and your servers cannot search across a Redis Cluster (see
``docs/scale-out.md``), run several independent servers and route each user to one of
them. Every memcore call is scoped to one user, so a user's whole memory lives on one
shard and every promise of the store contract still holds.

Users are placed by rendezvous hashing (highest random weight): each (shard name, user
id) pair gets a stable pseudo-random score and the user goes to the best-scoring shard.
Adding a shard moves only the users it now wins (about ``1 / shards`` of them); removing
one moves only its own users. Move a user with ``memcore export -u USER`` on the old
shard and ``memcore import`` on the new one.

    python examples/sharded_store.py             # three in-memory shards
    python examples/sharded_store.py --redis 3   # three embedded Redis Stack servers
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
from collections.abc import Iterator, Mapping, Sequence

from memcore import (
    EmbeddingSchema,
    HealthCheck,
    HealthStatus,
    MemoryRecord,
    MemoryService,
    MemoryStore,
    Page,
    SearchFilter,
    SearchHit,
    Vectors,
)
from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.domain import RecordUpdate
from memcore.ports import UnitVectors


def _score(shard: str, user_id: str) -> int:
    digest = hashlib.blake2b(f"{shard}\x00{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class ShardedStore:
    """A :class:`~memcore.ports.MemoryStore` that routes each user to one of ``shards``.

    ``shards`` maps a stable name to a store; names, not positions, decide placement, so
    keep a shard's name when its address changes.
    """

    backend = "sharded"

    def __init__(self, shards: Mapping[str, MemoryStore]) -> None:
        if not shards:
            msg = "at least one shard is needed"
            raise ValueError(msg)
        self.shards = dict(shards)

    def shard_name(self, user_id: str) -> str:
        """The name of the shard that holds ``user_id``'s memory."""
        return max(self.shards, key=lambda name: _score(name, user_id))

    @property
    def target(self) -> str:
        """Every shard's target, in shard order."""
        return "sharded:" + ",".join(self.shards[name].target for name in sorted(self.shards))

    def _for(self, user_id: str) -> MemoryStore:
        return self.shards[self.shard_name(user_id)]

    async def ensure_schema(self, schema: EmbeddingSchema) -> None:
        await asyncio.gather(*(shard.ensure_schema(schema) for shard in self.shards.values()))

    async def upsert(
        self, user_id: str, records: Sequence[MemoryRecord], vectors: UnitVectors
    ) -> None:
        await self._for(user_id).upsert(user_id, records, vectors)

    async def update(
        self, user_id: str, update: RecordUpdate, vector: UnitVectors | None
    ) -> MemoryRecord | None:
        return await self._for(user_id).update(user_id, update, vector)

    async def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        return await self._for(user_id).get(user_id, ids)

    async def get_with_vectors(
        self, user_id: str, ids: Sequence[str]
    ) -> tuple[list[MemoryRecord], Vectors]:
        return await self._for(user_id).get_with_vectors(user_id, ids)

    async def user_ids(self) -> list[str]:
        found = await asyncio.gather(*(shard.user_ids() for shard in self.shards.values()))
        return sorted({user for users in found for user in users})

    async def delete(self, user_id: str, ids: Sequence[str]) -> int:
        return await self._for(user_id).delete(user_id, ids)

    async def search(
        self, user_id: str, vector: UnitVectors, k: int, filters: SearchFilter
    ) -> list[SearchHit[MemoryRecord]]:
        return await self._for(user_id).search(user_id, vector, k, filters)

    async def list(
        self, user_id: str, filters: SearchFilter, limit: int, cursor: str | None = None
    ) -> Page[MemoryRecord]:
        return await self._for(user_id).list(user_id, filters, limit, cursor)

    async def count(self, user_id: str, filters: SearchFilter) -> int:
        return await self._for(user_id).count(user_id, filters)

    async def forget_user(self, user_id: str) -> int:
        return await self._for(user_id).forget_user(user_id)

    async def health(self) -> HealthCheck:
        names = list(self.shards)
        checks = await asyncio.gather(*(self.shards[name].health() for name in names))
        order = list(HealthStatus)
        worst = max((check.status for check in checks), key=order.index)
        sick = [f"{name}: {check.detail or check.status.value}"
                for name, check in zip(names, checks, strict=True)
                if check.status is not HealthStatus.HEALTHY]  # fmt: skip
        return HealthCheck(
            component="store",
            status=worst,
            latency_ms=max(check.latency_ms for check in checks),
            detail="; ".join(sick),
            facts={"shards": len(names), "unhealthy_shards": len(sick)},
        )

    async def aclose(self) -> None:
        results = await asyncio.gather(
            *(shard.aclose() for shard in self.shards.values()), return_exceptions=True
        )
        for result in results:  # every shard got its chance to close; now report
            if isinstance(result, BaseException):
                raise result


@contextlib.contextmanager
def redis_shards(count: int) -> Iterator[dict[str, MemoryStore]]:
    """``count`` embedded Redis Stack servers (agent-memcore-redis[server]), one store each."""
    from memcore_redis import RedisSettings, RedisStore  # noqa: PLC0415 - optional
    from memcore_redis.testing import EmbeddedRedis  # noqa: PLC0415

    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(EmbeddedRedis()) for _ in range(count)]
        yield {f"redis-{n}": RedisStore(RedisSettings(url=s.url)) for n, s in enumerate(servers)}


async def demo(shards: Mapping[str, MemoryStore]) -> dict[str, str]:
    """Write and search for a few users; return where each user lives."""
    store = ShardedStore(shards)
    memory = MemoryService(store, HashingEmbedder(dimension=64))
    await memory.start()
    try:
        users = [f"user-{n}" for n in range(6)]
        for user in users:
            await memory.record_intervention(
                user, "Two minutes of box breathing.", task="calm_down",
                outcome="task_completed",
            )  # fmt: skip
            hits = await memory.search_interventions(user, "anxious", k=1)
            assert hits[0].record.user_id == user  # noqa: S101 - the demo checks itself
        return {user: store.shard_name(user) for user in users}
    finally:
        await memory.aclose()


def main() -> None:
    """Run :func:`demo` on in-memory shards, or on embedded Redis servers with --redis N."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", type=int, default=0, help="embedded Redis servers to use")
    args = parser.parse_args()
    if args.redis:
        with redis_shards(args.redis) as shards:
            placement = asyncio.run(demo(shards))
    else:
        placement = asyncio.run(demo({f"memory-{n}": InMemoryStore() for n in range(3)}))
    for user, shard in placement.items():
        print(f"{user} -> {shard}")  # noqa: T201 - an example prints


if __name__ == "__main__":
    main()
