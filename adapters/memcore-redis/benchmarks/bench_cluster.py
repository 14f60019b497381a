"""RedisClusterStore on a three-primary cluster against RedisStore on one server, in one run.

Starts an embedded server and an embedded three-primary cluster (valkey-server with
RediSearch and RedisJSON on every node), writes the same records to both, then times
single writes, filtered KNN (k = 10) and a page of ``list`` alternately on the two, so
machine drift lands on both alike, and prints a markdown table with the ratio:

    python adapters/memcore-redis/benchmarks/bench_cluster.py --n 10000

The data is ``bench_redis.py``'s (users with topic-clustered vectors). All servers and
the client share this machine's cores: the figures show the cost of the cluster path
(routing, the slot check, reading records by key), not what more machines would add.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from bench_redis import BATCH, Data, exact_top, make_data

from memcore.domain import EmbeddingSchema, SearchFilter
from memcore.ports import MemoryStore, UnitVectors
from memcore_redis import RedisClusterStore, RedisSettings, RedisStore
from memcore_redis.testing import EmbeddedCluster, EmbeddedRedis

SCHEMA = EmbeddingSchema(dimension=384, model="bench")
Timed = Callable[[MemoryStore], Awaitable[Any]]


async def fill(store: MemoryStore, data: Data) -> float:
    """Write every record, a user's in batches; return records per second."""
    start = time.perf_counter()
    for u, user in enumerate(data.users):
        rows = np.flatnonzero(data.owner == u)
        for s in range(0, len(rows), BATCH):
            chunk = rows[s : s + BATCH]
            await store.upsert(
                user, [data.records[i] for i in chunk], UnitVectors(data.vectors[chunk])
            )
    return len(data.records) / (time.perf_counter() - start)


async def alternate(
    stores: dict[str, MemoryStore], calls: Sequence[Timed]
) -> dict[str, list[float]]:
    """Each call on each store in turn; milliseconds per store."""
    times: dict[str, list[float]] = {name: [] for name in stores}
    for call in calls:
        for name, store in stores.items():
            start = time.perf_counter()
            await call(store)
            times[name].append((time.perf_counter() - start) * 1000)
    return times


async def run(n: int, users: int) -> None:
    data = make_data(n, users, SCHEMA.dimension, queries=300)
    with EmbeddedRedis() as server, EmbeddedCluster(primaries=3) as cluster:
        stores: dict[str, MemoryStore] = {
            "one server": RedisStore(RedisSettings(url=server.url)),
            "cluster (3 primaries)": RedisClusterStore(RedisSettings(url=cluster.url)),
        }
        async with contextlib.AsyncExitStack() as stack:
            for store in stores.values():
                stack.push_async_callback(store.aclose)
                await store.ensure_schema(SCHEMA)
            ingest = {name: await fill(store, data) for name, store in stores.items()}
            singles = [replace(data.records[0], id=f"s{i}") for i in range(300)]
            writes = [
                lambda store, r=r: store.upsert(r.user_id, [r], data.vectors[:1]) for r in singles
            ]
            knn = [
                lambda store, u=u, q=q: store.search(data.users[u], q, 10, SearchFilter())
                for u, q in data.queries
            ]
            pages = [
                lambda store, u=u: store.list(data.users[u], SearchFilter(), 20)
                for u, _ in data.queries
            ]
            await alternate(stores, knn[:30])  # warm-up: connections, plans
            figures = {
                "single write": await alternate(stores, writes),
                "filtered KNN, k = 10": await alternate(stores, knn),
                "list, a page of 20": await alternate(stores, pages),
            }
            recall = {name: await _recall(store, data) for name, store in stores.items()}
    _print(n, users, ingest, figures, recall)


async def _recall(store: MemoryStore, data: Data) -> float:
    found = 0
    for u, q in data.queries:
        hits = await store.search(data.users[u], UnitVectors(q), 10, SearchFilter())
        found += len({hit.record.id for hit in hits} & exact_top(data, u, q))
    return found / (10 * len(data.queries))


def _print(
    n: int,
    users: int,
    ingest: dict[str, float],
    figures: dict[str, dict[str, list[float]]],
    recall: dict[str, float],
) -> None:
    one, many = list(ingest)
    print(f"N = {n:,}, {users} users\n")
    print(f"| figure | {one} | {many} | ratio |")
    print("|---|---|---|---|")
    print(f"| bulk ingest (rec/s) | {ingest[one]:,.0f} | {ingest[many]:,.0f} | "
          f"{ingest[many] / ingest[one]:.2f}x |")  # fmt: skip
    for figure, times in figures.items():
        for label, q in (("p50", 50), ("p99", 99)):
            a, b = np.percentile(times[one], q), np.percentile(times[many], q)
            print(f"| {figure} {label} (ms) | {a:.3f} | {b:.3f} | {b / a:.2f}x |")
    print(f"| recall@10 | {recall[one]:.3f} | {recall[many]:.3f} | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.n, args.users))


if __name__ == "__main__":
    main()
