"""memcore RedisStore against the raw redis-py floor and RedisVL, in one run.

Starts its own embedded Redis Stack (valkey-server + RediSearch + RedisJSON) unless
``--url`` is given, and prints a markdown table, every figure beside the floor's:

    python adapters/memcore-redis/benchmarks/bench_redis.py --n 10000
    python adapters/memcore-redis/benchmarks/bench_redis.py --n 100000

Data: ``--users`` users own the records round-robin; each user writes about a few
topics, so a user's vectors are unit vectors scattered around 8 topic centres of their
own (cosine to the centre ~0.7), and queries are new points around the same centres.
That is how one person's memories look to an embedding model; uniform random vectors
in 384 dimensions (no structure at all) are the worst case for any HNSW index.

Datasets are written one at a time (floor, memcore float32, memcore float16) and dropped
after measuring, so ``used_memory`` deltas do not mix. The JSON layout's memory is set
against a JSON floor with the same fields in ``bench_json_memory.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import redis.asyncio as aioredis
from numpy.typing import NDArray
from redis.typing import EncodableT

from memcore import MemoryService
from memcore.adapters.hashing import HashingEmbedder
from memcore.domain import EmbeddingSchema, Intervention, Outcome, SearchFilter
from memcore.ports import UnitVectors
from memcore_bench.redis_targets import used_memory
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.commands import call
from memcore_redis.testing import EmbeddedRedis

BATCH = 500
TOPICS = 8
TASKS = ("breathing", "sleep", "walk", "journal", "hydrate")
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


@dataclass
class Data:
    """Records, vectors and queries of one benchmark run."""

    users: list[str]
    records: list[Intervention]
    vectors: NDArray[np.float32]
    owner: NDArray[np.int64]
    queries: list[tuple[int, NDArray[np.float32]]]


def make_data(n: int, users: int, dim: int, queries: int, seed: int = 7) -> Data:
    rng = np.random.default_rng(seed)
    centres = _unit(rng.standard_normal((users, TOPICS, dim)))
    owner = np.arange(n) % users
    topic = rng.integers(0, TOPICS, n)
    vectors = _unit(centres[owner, topic] + rng.standard_normal((n, dim)) * (1.0 / np.sqrt(dim)))
    names = [f"user-{u}" for u in range(users)]
    records = [
        Intervention(
            id=f"r{i}",
            user_id=names[owner[i]],
            intervention_text=f"Suggested a short {TASKS[i % 5]} routine after the check-in #{i}",
            task=TASKS[i % 5],
            context="evening session, user reported low energy",
            outcome=list(Outcome)[i % 8],
            created_at=T0 + timedelta(seconds=i),
            metadata={"lang": "en", "channel": "chat"},
        )
        for i in range(n)
    ]
    picked = rng.integers(0, users, queries)
    qs = _unit(
        centres[picked, rng.integers(0, TOPICS, queries)]
        + rng.standard_normal((queries, dim)) * (1.0 / np.sqrt(dim))
    )
    return Data(names, records, vectors, owner, list(zip(picked.tolist(), qs, strict=True)))


def _unit(x: NDArray[Any]) -> NDArray[np.float32]:
    unit: NDArray[np.float32] = (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)
    return unit


def exact_top(data: Data, user: int, query: NDArray[np.float32], k: int = 10) -> set[str]:
    rows = np.flatnonzero(data.owner == user)
    scores = data.vectors[rows] @ query
    return {data.records[r].id for r in rows[np.argsort(-scores)[:k]]}


async def timed(call: Callable[[], Awaitable[Any]], repeat: int) -> NDArray[np.float64]:
    out = np.empty(repeat)
    for i in range(repeat):
        start = time.perf_counter()
        await call()
        out[i] = (time.perf_counter() - start) * 1000
    return out


_NOT_COUNTED = frozenset({"cmdstat_info", "cmdstat_exec"})
"""``INFO`` is the measurement itself; ``EXEC``'s time already holds its commands'."""


async def server_usec(raw: aioredis.Redis) -> int:
    """Microseconds the server has spent executing commands (``INFO commandstats``),
    each counted once. Read before and after a block of calls, the difference is the
    block's *server time*; the block's wall time minus it is the *client time*: what
    the client computes, sends and parses, with the network and the scheduler (issue
    21's definition; the server's own socket work is in neither).
    """
    stats: dict[str, Any] = await raw.info("commandstats")
    return sum(int(stat["usec"]) for name, stat in stats.items() if name not in _NOT_COUNTED)


# -- the floor: raw redis-py -------------------------------------------------------------


def floor_fields(record: Intervention, vector: NDArray[np.float32]) -> dict[EncodableT, EncodableT]:
    return {
        "user_id": record.user_id,
        "kind": "intervention",
        "outcome": record.outcome.value,
        "task": record.task,
        "created_at": record.created_at.timestamp(),
        # memcore's hash keeps the exact time too: the index returns numbers rounded.
        "created_at_iso": record.created_at.isoformat(),
        "intervention_text": record.intervention_text,
        "context": record.context,
        "metadata": json.dumps(dict(record.metadata)),
        "vec": vector.tobytes(),
    }


async def floor_run(raw: aioredis.Redis, data: Data, dim: int, rvl: bool) -> dict[str, Any]:
    await call(
        raw, "FT.CREATE", "floor-idx", "ON", "HASH", "PREFIX", 1, "floor:", "SCHEMA",
        "user_id", "TAG", "kind", "TAG", "outcome", "TAG", "task", "TAG",
        "created_at", "NUMERIC", "vec", "VECTOR", "HNSW", 10, "TYPE", "FLOAT32", "DIM", dim,
        "DISTANCE_METRIC", "COSINE", "M", 16, "EF_CONSTRUCTION", 200,
    )  # fmt: skip
    before = await used_memory(raw)
    start = time.perf_counter()
    for s in range(0, len(data.records), BATCH):
        async with raw.pipeline(transaction=False) as pipe:
            for i in range(s, min(s + BATCH, len(data.records))):
                pipe.hset(
                    f"floor:{data.records[i].id}",
                    mapping=floor_fields(data.records[i], data.vectors[i]),
                )
            await pipe.execute()
    result: dict[str, Any] = {"ingest": len(data.records) / (time.perf_counter() - start)}
    result["bytes"] = (await used_memory(raw) - before) / len(data.records)
    one = floor_fields(data.records[0], data.vectors[0])
    fresh = itertools.count()  # a new record each time, as record_intervention writes
    # Timed by memcore_run, interleaved with memcore's own single writes.
    result["write_one"] = lambda: raw.hset(f"floor:s{next(fresh)}", mapping=one)

    async def knn(user: int, q: NDArray[np.float32]) -> list[str]:
        reply = await call(
            raw, "FT.SEARCH", "floor-idx", f"(@user_id:{{user\\-{user}}})=>[KNN 10 @vec $v]",
            "PARAMS", 2, "v", q.tobytes(), "DIALECT", 2,
        )  # fmt: skip
        return [key.decode().removeprefix("floor:") for key in reply[1::2]]

    result |= await knn_figures(knn, data)
    if rvl:
        result["redisvl"] = await redisvl_run(raw, data)
    return result  # the caller drops floor-idx once memcore's writes are measured


async def redisvl_run(raw: aioredis.Redis, data: Data) -> dict[str, Any]:
    from redisvl.index import AsyncSearchIndex  # noqa: PLC0415 - optional peer
    from redisvl.query import VectorQuery  # noqa: PLC0415
    from redisvl.query.filter import Tag  # noqa: PLC0415

    index = await AsyncSearchIndex.from_existing("floor-idx", redis_client=raw)

    async def knn(user: int, q: NDArray[np.float32]) -> list[str]:
        query = VectorQuery(
            q.tobytes(), "vec", return_fields=["user_id", "intervention_text"],
            filter_expression=Tag("user_id") == data.users[user], num_results=10,
        )  # fmt: skip
        return [doc["id"].removeprefix("floor:") for doc in await index.query(query)]

    return await knn_figures(knn, data)


# -- memcore -----------------------------------------------------------------------------


async def memcore_run(
    url: str,
    data: Data,
    dim: int,
    n_mem: int,
    floor: dict[str, Any] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """memcore's figures; with ``floor``, single writes alternate with the floor's."""
    raw = aioredis.Redis.from_url(url, protocol=2)
    prefix = "memcore"  # the default key prefix
    store = RedisStore(RedisSettings(url=url, key_prefix=prefix, **settings))
    embedder = HashingEmbedder(dimension=dim)
    service = MemoryService(store, embedder)
    await store.ensure_schema(EmbeddingSchema(dimension=dim, model=embedder.model))
    result: dict[str, Any] = {}
    try:
        before = await used_memory(raw)
        start = time.perf_counter()
        await ingest_by_user(store, data, n_mem)
        result["ingest"] = n_mem / (time.perf_counter() - start)
        result["bytes"] = (await used_memory(raw) - before) / n_mem
        if n_mem == len(data.records):
            await service.start()
            vector = data.vectors[0]
            if floor is not None:
                ours, theirs = [], []
                for _ in range(300):  # alternating, so drift lands on both alike
                    theirs.append(await timed(floor["write_one"], 1))
                    ours.append(
                        await timed(
                            lambda: service.record_intervention(
                                data.users[0],
                                "Tried the breathing routine",
                                task="breathing",
                                embedding=vector,
                            ),
                            1,
                        )
                    )
                result["write"], floor["write"] = np.concatenate(ours), np.concatenate(theirs)

            async def knn(user: int, q: NDArray[np.float32]) -> list[str]:
                hits = await store.search(data.users[user], UnitVectors(q), 10, SearchFilter())
                return [hit.record.id for hit in hits]

            result |= await knn_figures(knn, data)
    finally:
        await call(raw, "FT.DROPINDEX", store.index_name, "DD")
        await raw.delete(f"{prefix}:meta")
        await store.aclose()
        await raw.aclose()
    return result


async def ingest_by_user(store: RedisStore, data: Data, n: int) -> None:
    """The first ``n`` records through ``store.upsert``, a user's at a time, ``BATCH`` a call."""
    for u, user in enumerate(data.users):
        rows = np.flatnonzero(data.owner[:n] == u)
        for s in range(0, len(rows), BATCH):
            chunk = rows[s : s + BATCH]
            await store.upsert(
                user, [data.records[i] for i in chunk], UnitVectors(data.vectors[chunk])
            )


async def knn_figures(
    knn: Callable[[int, NDArray[np.float32]], Awaitable[list[str]]], data: Data
) -> dict[str, Any]:
    for user, q in data.queries[:50]:  # warm-up: connections, caches, learnt plans
        await knn(user, q)
    times, recalls = [], []
    for user, q in data.queries:
        start = time.perf_counter()
        got = await knn(user, q)
        times.append((time.perf_counter() - start) * 1000)
        recalls.append(len(set(got) & exact_top(data, user, q)) / 10)
    return {"knn": np.array(times), "recall": float(np.mean(recalls))}


# -- report ------------------------------------------------------------------------------


def table(n: int, floor: dict[str, Any], f32: dict[str, Any], f16: dict[str, Any]) -> str:
    """Every figure beside the floor's, with the ratio."""

    def p50(figures: dict[str, Any], key: str) -> float:
        return float(np.percentile(figures[key], 50))

    def p99(figures: dict[str, Any], key: str) -> float:
        return float(np.percentile(figures[key], 99))

    def row(name: str, base: float, ours: float, fmt: str) -> str:
        return f"| {name} | {base:{fmt}} | {ours:{fmt}} | {ours / base:.2f}x |"

    rows = [
        row("bulk ingest (rec/s)", floor["ingest"], f32["ingest"], ",.0f"),
        row("single write p50 (ms)", p50(floor, "write"), p50(f32, "write"), ".3f"),
        row("filtered KNN p50 (ms)", p50(floor, "knn"), p50(f32, "knn"), ".3f"),
        row("filtered KNN p99 (ms)", p99(floor, "knn"), p99(f32, "knn"), ".3f"),
        row("recall@10", floor["recall"], f32["recall"], ".3f"),
        row("bytes/record, hash float32", floor["bytes"], f32["bytes"], ",.0f"),
        row("bytes/record, hash FLOAT16", floor["bytes"], f16["bytes"], ",.0f"),
        row("FLOAT16 KNN p50 (ms)", p50(floor, "knn"), p50(f16, "knn"), ".3f"),
        row("FLOAT16 recall@10", floor["recall"], f16["recall"], ".3f"),
    ]
    if "redisvl" in floor:
        rvl = floor["redisvl"]
        rows += [
            row("RedisVL KNN p50 (ms)", p50(floor, "knn"), p50(rvl, "knn"), ".3f"),
            row("RedisVL recall@10", floor["recall"], rvl["recall"], ".3f"),
        ]
    head = [f"N = {n:,}", "", "| figure | floor | memcore | memcore / floor |", "|---|---|---|---|"]
    return "\n".join(head + rows)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="records (default 10000)")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--url", help="use this server instead of starting one")
    parser.add_argument("--no-redisvl", action="store_true", help="skip RedisVL")
    args = parser.parse_args()
    rvl = not args.no_redisvl
    if rvl:
        try:
            import redisvl  # noqa: F401, PLC0415
        except ImportError:
            rvl = False
    data = make_data(args.n, args.users, args.dim, args.queries)
    server = None if args.url else EmbeddedRedis().start()
    url = args.url or server.url  # type: ignore[union-attr]
    try:
        raw = aioredis.Redis.from_url(url, protocol=2)
        floor = await floor_run(raw, data, args.dim, rvl)
        f32 = await memcore_run(url, data, args.dim, args.n, floor)
        await call(raw, "FT.DROPINDEX", "floor-idx", "DD")
        await raw.aclose()
        f16 = await memcore_run(url, data, args.dim, args.n, vector_datatype="FLOAT16")
    finally:
        if server is not None:
            server.stop()
    print(table(args.n, floor, f32, f16))


if __name__ == "__main__":
    asyncio.run(main())
