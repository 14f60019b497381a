"""How the way an index was filled changes a filtered KNN: the same records, written in
four ways into four indexes on one server, searched alike.

- **user by user**: the index is built first, then each user's records in one batch
  (how the other benchmarks load);
- **users interleaved**: built first, then ``--chunk`` records of each user in turn;
- **during its scan**: created on a server already holding ``--others`` keys of another
  prefix, and written user by user at once, while RediSearch still scans the keyspace
  for it (a first start beside other data, an index rebuilt under live writes);
- **migrated**: written user by user in the layout before the readable one
  (:mod:`memcore_redis.testing.legacy_writer`), then migrated by ``memcore migrate``'s
  :class:`~memcore_redis.migrate.Migration` once the other indexes are built: its new
  index scans the keyspace, then the backfill and the strip index each record again as
  they walk it (``SCAN`` order).

Prints, per index, the p50 of the same ``--queries`` top-10 searches of a user's
records (``RedisStore.search``, the index's targets in turn first) and its ratio to the
first, with ``FT.INFO``'s ``max_doc_id`` against ``num_docs``: a key the scan indexes
again gets a new document id.

    python adapters/memcore-redis/benchmarks/bench_index_order.py [--storage json] \\
        [--users 20] [--per-user 500] [--others 42000] [--queries 400] [--settle 0]

``--settle`` waits that many seconds once every index is filled, before the searches: time
for RediSearch's garbage collector (``FORK_GC_RUN_INTERVAL``, 30 s by default) to free the
entries of documents indexed again.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import numpy as np
import redis.asyncio as aioredis
from numpy.typing import NDArray

from memcore import EmbeddingSchema, Intervention, Outcome
from memcore.domain import RecordKind, SearchFilter
from memcore.ports import UnitVectors
from memcore_bench.redis_targets import index_info, indexes_built
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.migrate import Migration
from memcore_redis.testing import EmbeddedRedis, legacy_writer

DIM = 384
SCHEMA = EmbeddingSchema(dimension=DIM, model="bench")
INTERVENTIONS = SearchFilter(kind=RecordKind.INTERVENTION)
Fill = Callable[[RedisStore], Awaitable[None]]


class Data:
    """``users`` users of ``per_user`` interventions and their unit vectors."""

    def __init__(self, users: int, per_user: int, rng: np.random.Generator) -> None:
        self.users = [f"user-{u}" for u in range(users)]
        self.per_user = per_user
        vectors = rng.standard_normal((users, per_user, DIM)).astype(np.float32)
        self.vectors: NDArray[np.float32] = vectors / np.linalg.norm(vectors, axis=2, keepdims=True)

    def records(self, u: int, start: int, stop: int) -> list[Intervention]:
        return [
            Intervention(
                id=f"r{u}-{i}",
                user_id=self.users[u],
                intervention_text=f"Try box breathing, round {i}.",
                task=f"task_{i % 7}",
                outcome=Outcome.TASK_COMPLETED,
            )
            for i in range(start, stop)
        ]

    async def write(self, store: RedisStore, u: int, start: int, stop: int) -> None:
        vectors = UnitVectors(self.vectors[u, start:stop])
        await store.upsert(self.users[u], self.records(u, start, stop), vectors)


async def fill_others(raw: aioredis.Redis, count: int, rng: np.random.Generator) -> None:
    """``count`` hashes of another prefix, each with a vector, for a new index to scan."""
    for start in range(0, count, 1_000):
        async with raw.pipeline(transaction=False) as pipe:
            for i in range(start, min(start + 1_000, count)):
                vector = rng.standard_normal(DIM).astype(np.float32).tobytes()
                pipe.hset(f"other:{i}", mapping={"text": f"another app's row {i}", "v": vector})
            await pipe.execute()


async def open_store(url: str, name: str, storage: str) -> RedisStore:
    store = RedisStore(RedisSettings(url=url, key_prefix=name, storage_type=storage))
    await store.ensure_schema(SCHEMA)
    return store


async def migrated(url: str, raw: aioredis.Redis, data: Data, storage: str) -> RedisStore:
    """A store of ``data`` written user by user in the layout before, then migrated."""
    settings = RedisSettings(url=url, key_prefix="migrated", storage_type=storage)
    await legacy_writer.create(raw, settings.key_prefix, settings.index, storage, SCHEMA)
    for u in range(len(data.users)):
        async with raw.pipeline(transaction=False) as pipe:
            for record, vector in zip(
                data.records(u, 0, data.per_user), data.vectors[u], strict=True
            ):
                pipe.execute_command(
                    *legacy_writer.write(settings.key_prefix, storage, record, vector)
                )
            await pipe.execute()
    migration = Migration(settings)
    try:
        await migration.run()
    finally:
        await migration.aclose()
    return await open_store(url, settings.key_prefix, storage)


async def load(
    url: str, raw: aioredis.Redis, data: Data, args: argparse.Namespace
) -> dict[str, RedisStore]:
    """The four indexes, filled; the first while the scan of the other keys runs, the
    migrated one last."""
    users = range(len(data.users))

    async def by_user(store: RedisStore) -> None:
        for u in users:
            await data.write(store, u, 0, data.per_user)

    async def interleaved(store: RedisStore) -> None:
        for start in range(0, data.per_user, args.chunk):
            for u in users:
                await data.write(store, u, start, min(start + args.chunk, data.per_user))

    stores = {"during its scan": await open_store(url, "scan", args.storage)}
    await by_user(stores["during its scan"])  # at once: the scan is still running
    fills: dict[str, tuple[str, Fill]] = {
        "user by user": ("grouped", by_user),
        f"users interleaved ({args.chunk} at a time)": ("mixed", interleaved),
    }
    for label, (prefix, fill) in fills.items():
        store = stores[label] = await open_store(url, prefix, args.storage)
        await indexes_built(raw, [store.index_name])
        await fill(store)
    for store in stores.values():
        await indexes_built(raw, [store.index_name])
    stores["migrated"] = await migrated(url, raw, data, args.storage)
    await indexes_built(raw, [stores["migrated"].index_name])
    return stores


async def timed(
    stores: dict[str, RedisStore], data: Data, queries: NDArray[np.float32]
) -> dict[str, list[float]]:
    """Each index's milliseconds per search, the indexes taking turns first."""
    order = list(stores.items())
    times: dict[str, list[float]] = {name: [] for name in stores}
    for i, query in enumerate(queries):
        for name, store in order[i % len(order) :] + order[: i % len(order)]:
            began = time.perf_counter()
            await store.search(
                data.users[i % len(data.users)], UnitVectors(query), 10, INTERVENTIONS
            )
            times[name].append((time.perf_counter() - began) * 1000)
    return times


async def run(args: argparse.Namespace) -> str:
    rng = np.random.default_rng(7)
    data = Data(args.users, args.per_user, rng)
    queries = rng.standard_normal((args.queries, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    with EmbeddedRedis() as server:
        raw = aioredis.Redis.from_url(server.url, protocol=2)
        await fill_others(raw, args.others, rng)
        stores = await load(server.url, raw, data, args)
        await asyncio.sleep(args.settle)  # RediSearch's garbage collector runs meanwhile
        times = await timed(stores, data, queries)
        base = statistics.median(times["user by user"])
        head = (
            f"{args.storage}, {args.users} users x {args.per_user} records, "
            f"{args.others:,} other keys, {args.queries} queries, settled {args.settle:g} s"
        )
        lines = [head, "", "| index filled | KNN p50 (ms) | ratio | max_doc_id / num_docs |"]
        lines.append("|---|---|---|---|")
        for name in ("user by user", *(n for n in stores if n != "user by user")):
            info = await index_info(raw, stores[name].index_name)
            p50 = statistics.median(times[name])
            ids = f"{int(str(info[b'max_doc_id'])):,} / {int(str(info[b'num_docs'])):,}"
            lines.append(f"| {name} | {p50:.3f} | {p50 / base:.2f}x | {ids} |")
        for store in stores.values():
            await store.aclose()
        await raw.aclose()
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--storage", choices=["hash", "json"], default="json")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--per-user", type=int, default=500)
    parser.add_argument("--chunk", type=int, default=25, help="records a turn, interleaved")
    parser.add_argument("--others", type=int, default=42_000, help="keys for the scan")
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument(
        "--settle", type=float, default=0.0, help="seconds to wait before searching"
    )
    print(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
