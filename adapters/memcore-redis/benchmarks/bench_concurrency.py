"""Concurrent single writes: memcore (the service as ``memcore.connect()`` builds it)
against a redis-py asyncio floor doing the same ``HSET``s at the same concurrency.

    python adapters/memcore-redis/benchmarks/bench_concurrency.py --writers 1000 --records 5

Starts an embedded server. Each of ``--writers`` tasks, all started at once, writes
``--records`` interventions one after another, for a user of its own: memcore through
``record_intervention`` with the hashing embedder (384 dimensions), the floor as an
``HSET`` of the same fields with a precomputed vector, into an index of the same
attributes, through a pool of the same size (``MEMCORE_REDIS_MAX_CONNECTIONS``, 32). The
two alternate ``--rounds`` times; prints each one's throughput (writes/s) and p50/p99 of
one write, the median of rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import redis.asyncio as aioredis

import memcore
from memcore.adapters.hashing import HashingEmbedder
from memcore.service import MemoryService
from memcore_redis.commands import call
from memcore_redis.testing import EmbeddedRedis

DIMENSION = 384
POOL = 32
TEXT = "Suggested a short breathing routine after the check-in"


async def concurrently(
    writers: int, records: int, write: Callable[[int, int], Awaitable[Any]]
) -> tuple[float, list[float]]:
    """Writes/s over all writers, and every write's latency in ms."""
    latencies: list[float] = []

    async def writer(w: int) -> None:
        for r in range(records):
            began = time.perf_counter()
            await write(w, r)
            latencies.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return writers * records / (time.perf_counter() - began), latencies


async def floor_writer(
    url: str, round_: int
) -> tuple[aioredis.Redis, Callable[[int, int], Awaitable[Any]]]:
    pool = aioredis.BlockingConnectionPool.from_url(url, protocol=2, max_connections=POOL)
    raw = aioredis.Redis(connection_pool=pool)
    index = f"floor{round_}-idx"
    await call(
        raw, "FT.CREATE", index, "ON", "HASH", "PREFIX", 1, f"floor{round_}:", "SCHEMA",
        "user_id", "TAG", "kind", "TAG", "outcome", "TAG", "task", "TAG", "created_at", "NUMERIC",
        "vector", "VECTOR", "HNSW", 6, "TYPE", "FLOAT32", "DIM", DIMENSION,
        "DISTANCE_METRIC", "COSINE",
    )  # fmt: skip
    vector = (await HashingEmbedder(dimension=DIMENSION).embed([TEXT]))[0].tobytes()

    async def write(w: int, r: int) -> None:
        await raw.hset(
            f"floor{round_}:{{u{w}}}:{r}",
            mapping={
                "kind": "intervention", "user_id": f"u{w}", "intervention_text": TEXT,
                "task": "breathing", "outcome": "unknown", "created_at": time.time(),
                "vector": vector,
            },
        )  # fmt: skip

    return raw, write


async def run(url: str, writers: int, records: int, rounds: int) -> None:
    results: dict[str, list[tuple[float, list[float]]]] = {"floor": [], "memcore": []}
    for round_ in range(rounds):
        raw, write = await floor_writer(url, round_)
        results["floor"].append(await concurrently(writers, records, write))
        await call(raw, "FT.DROPINDEX", f"floor{round_}-idx", "DD")
        await raw.aclose()
        os.environ["MEMCORE_REDIS_KEY_PREFIX"] = f"m{round_}"
        service: MemoryService = await memcore.connect(store="redis", embedder="hashing")
        try:

            async def record(w: int, r: int, service: MemoryService = service) -> None:
                await service.record_intervention(f"u{w}", TEXT, task="breathing", id=f"i{r}")

            results["memcore"].append(await concurrently(writers, records, record))
        finally:
            await service.aclose()
    print(f"{writers} writers x {records} writes, pool {POOL}, median of {rounds} rounds\n")
    print("| target | writes/s | p50 ms | p99 ms | throughput / floor |\n|---|---|---|---|---|")
    floor = statistics.median(rate for rate, _ in results["floor"])
    for name, runs in results.items():
        rate = statistics.median(r for r, _ in runs)
        p50 = statistics.median(float(np.percentile(lat, 50)) for _, lat in runs)
        p99 = statistics.median(float(np.percentile(lat, 99)) for _, lat in runs)
        print(f"| {name} | {rate:,.0f} | {p50:.1f} | {p99:.1f} | {rate / floor:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--writers", type=int, default=1000)
    parser.add_argument("--records", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as state:
        # The hashing embedder's default dimension is DIMENSION.
        os.environ |= {"MEMCORE_REDIS_URL": server.url, "MEMCORE_STATE_DIR": state}
        asyncio.run(run(server.url, args.writers, args.records, args.rounds))


if __name__ == "__main__":
    main()
