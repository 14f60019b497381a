"""Filtered KNN, memcore against RedisVL alone: the two ``memcore bench`` targets and
nothing else, alternated round by round.

    python adapters/memcore-redis/benchmarks/bench_knn_vs_redisvl.py --n 100000 --users 10

Each target runs on its own embedded server, as in ``memcore bench``; both hold the same
workload. Prints each round's p50 and the server's microseconds per ``FT.SEARCH``
(``INFO commandstats``; memcore's count includes its write checks and planner counts).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np

from memcore_bench.redis_targets import MemcoreRedisTarget, RedisVLTarget
from memcore_bench.workload import Workload, make_workload


async def load(targets: dict[str, Any], workload: Workload) -> None:
    """The same records into every target, a user's in batches of 500."""
    for target in targets.values():
        await target.setup(workload)
    for user, rows in workload.batches(500):
        for target in targets.values():
            await target.ingest(user, workload.interventions[rows], workload.vectors[rows])


async def p50s(targets: dict[str, Any], workload: Workload, rounds: int) -> dict[str, list[float]]:
    """Each round: every query on one target, then on the next; the median of each."""
    for query in workload.queries[:50]:  # warm-up: connections, learnt plans
        for target in targets.values():
            await target.knn(query, 10)
    found: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, target in targets.items():
            times = []
            for query in workload.queries:
                began = time.perf_counter()
                await target.knn(query, 10)
                times.append((time.perf_counter() - began) * 1000)
            found[name].append(float(np.median(times)))
    return found


async def run(n: int, users: int, rounds: int) -> None:
    workload = make_workload(n, users=users, dimension=384, queries=300)
    targets: dict[str, Any] = {"RedisVL": RedisVLTarget(), "memcore": MemcoreRedisTarget("hash")}
    try:
        await load(targets, workload)
        medians = await p50s(targets, workload, rounds)
        header = " | ".join(f"round {r + 1}" for r in range(rounds))
        print(f"N = {n:,}, {users} users, filtered KNN p50 (ms) per round\n")
        print(f"| target | {header} | µs per FT.SEARCH |")
        print("|---|" + "---|" * (rounds + 1))
        for name, target in targets.items():
            stats = (await target.raw.info("commandstats"))["cmdstat_FT.SEARCH"]
            row = " | ".join(f"{p50:.3f}" for p50 in medians[name])
            print(f"| {name} | {row} | {stats['usec_per_call']:.0f} |")
    finally:
        for target in targets.values():
            await target.aclose()


def cli(run: Callable[[int, int, int], Coroutine[Any, Any, None]], doc: str) -> None:
    """Parse ``--n``, ``--users`` and ``--rounds`` and run ``run`` with them (the
    command line of this benchmark and of ``bench_prefilter.py``).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(run(args.n, args.users, args.rounds))


def main() -> None:
    cli(run, __doc__ or "")


if __name__ == "__main__":
    main()
