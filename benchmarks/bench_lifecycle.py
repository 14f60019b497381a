"""Lifecycle calls on Redis against their floors, in one run on one embedded server.

    python benchmarks/bench_lifecycle.py --n 100000 --users 10

Loads ``--n`` interventions of the benchmark workload into memcore's Redis HASH store,
then alternates, call by call in a seeded random order:

- ``update_outcome`` through the service (validation, pipeline, the Lua script, the
  record decoded) and the store's ``update`` alone, against their floor, one raw
  ``HSET key outcome <value>`` of an indexed record with redis-py; the embedder must not
  be called (the script asserts it);
- ``what_worked`` (``candidates`` nearest re-ranked, k 5) against a plain
  ``search_interventions`` (k 5) of the same situation text, both embedding it with
  the same hashing embedder.

Prints p50 and mean of each and the ratios (targets: update_outcome <= 1.2x the HSET,
what_worked <= 1.3x the search).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from memcore import MemoryService, Outcome
from memcore.adapters.hashing import HashingEmbedder
from memcore.domain import RecordKind, RecordUpdate, utcnow
from memcore.ports import UnitVectors, Vectors
from memcore.settings import WhatWorkedSettings
from memcore_bench.workload import make_workload
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.commands import call
from memcore_redis.encoding import record_key
from memcore_redis.testing import EmbeddedRedis

OUTCOMES = [Outcome.TASK_COMPLETED, Outcome.USER_ENGAGED, Outcome.NO_RESPONSE]


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, counting its calls."""

    def __init__(self, dimension: int) -> None:
        super().__init__(dimension=dimension)
        self.calls = 0

    async def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        return await super().embed(texts)


async def timed(
    calls: dict[str, Callable[[int], Awaitable[object]]], rounds: int
) -> dict[str, list[float]]:
    """Milliseconds per call, the calls alternated in a fresh seeded order each round."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    order = random.Random(1)
    for i in range(rounds):
        for name in order.sample(list(calls), len(calls)):
            began = time.perf_counter()
            await calls[name](i)
            times[name].append((time.perf_counter() - began) * 1000)
    return times


async def run(n: int, users: int, rounds: int, candidates: int) -> None:
    workload = make_workload(n, users=users, dimension=384, queries=200)
    with EmbeddedRedis() as server:
        store = RedisStore(RedisSettings(url=server.url, key_prefix="bench"))
        embedder = CountingEmbedder(384)
        ranking = WhatWorkedSettings(candidates=candidates)
        async with MemoryService(store, embedder, what_worked=ranking) as memory:
            for user, rows in workload.batches(500):
                batch = workload.interventions[rows]
                await store.upsert(user, batch, UnitVectors(workload.vectors[rows]))
            picked = random.Random(2).sample(range(n), rounds)
            records = [workload.interventions[i] for i in picked]
            situations = [
                f"{q.user} feels stuck before {q.user[-2:]} o'clock" for q in workload.queries
            ]

            async def update_outcome(i: int) -> object:
                record = records[i]
                return await memory.update_outcome(record.user_id, record.id, OUTCOMES[i % 3])

            async def store_update(i: int) -> object:
                record = records[i]
                update = RecordUpdate(
                    record.id, RecordKind.INTERVENTION, {"outcome": OUTCOMES[i % 3]}, utcnow(), 100
                )
                return await store.update(record.user_id, update, None)

            async def hset(i: int) -> object:
                record = records[i]
                key = record_key("bench", record.user_id, record.id)
                return await call(store._client, "HSET", key, "outcome", OUTCOMES[i % 3].value)  # noqa: SLF001

            async def what_worked(i: int) -> object:
                query = workload.queries[i % len(workload.queries)]
                return await memory.what_worked(query.user, situations[i % len(situations)])

            async def search(i: int) -> object:
                query = workload.queries[i % len(workload.queries)]
                return await memory.search_interventions(
                    query.user, situations[i % len(situations)]
                )

            for warm in (update_outcome, store_update, hset, what_worked, search):
                for i in range(20):
                    await warm(i)
            embedded = embedder.calls
            writes = await timed(
                {
                    "update_outcome": update_outcome,
                    "RedisStore.update": store_update,
                    "HSET floor": hset,
                },
                rounds,
            )
            assert embedder.calls == embedded, "update_outcome called the embedder"
            reads = await timed(
                {"what_worked": what_worked, "search_interventions": search}, rounds
            )
    p50 = {name: float(np.median(found)) for name, found in {**writes, **reads}.items()}
    print(
        f"N = {n:,} interventions, {users} users, HASH, {rounds} calls each, "
        f"candidates {candidates}\n"
    )
    print("| call | p50 ms | mean ms |\n|---|---|---|")
    for name, found in {**writes, **reads}.items():
        print(f"| {name} | {p50[name]:.3f} | {np.mean(found):.3f} |")
    print(
        f"\nupdate_outcome / HSET p50: {p50['update_outcome'] / p50['HSET floor']:.2f}x"
        f" (embedder calls during updates: 0)\n"
        f"RedisStore.update / HSET p50: {p50['RedisStore.update'] / p50['HSET floor']:.2f}x\n"
        f"what_worked / search_interventions p50: "
        f"{p50['what_worked'] / p50['search_interventions']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1_000)
    parser.add_argument("--candidates", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.n, args.users, args.rounds, args.candidates))


if __name__ == "__main__":
    main()
