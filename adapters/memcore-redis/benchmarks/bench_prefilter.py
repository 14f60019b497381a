"""Filtered KNN on the server: memcore's pre-filter with and without a redundant kind clause.

    python adapters/memcore-redis/benchmarks/bench_prefilter.py --n 100000 --users 10

Loads memcore's Redis HASH target (as in ``memcore bench``), then sends the benchmark's
query (a user's interventions with outcome ``task_completed``, top 10) as raw
``FT.SEARCH`` commands in three forms, alternated query by query in a fresh order:
memcore's pre-filter (user + outcome), the same with ``@kind:{intervention}`` added (what memcore
sent before: only interventions carry an outcome, so the clause selects nothing more),
both with the plan memcore's planner picks for the user's count of candidates; and the
second with the server's own plan (what RedisVL sends). Prints each form's p50 and mean.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np
from bench_knn_vs_redisvl import cli

from memcore.domain import RecordKind, SearchFilter
from memcore_bench.redis_targets import MemcoreRedisTarget
from memcore_bench.workload import SEARCH_OUTCOME, Query, Workload, make_workload
from memcore_redis import RedisStore
from memcore_redis.commands import call
from memcore_redis.query import filter_query, knn_command

KIND_CLAUSE = "@kind:{intervention}"
INTERVENTIONS = SearchFilter().with_kind(RecordKind.INTERVENTION)  # what the service searches


def command(
    target: MemcoreRedisTarget, query: Query, prefilter: str, policy: str | None
) -> list[Any]:
    """memcore's KNN command for ``query`` with ``prefilter`` and ``policy``."""
    vector = (query.vector / np.linalg.norm(query.vector)).astype(np.float32)
    store = target.store
    assert isinstance(store, RedisStore)
    return knn_command(
        store.index_name, prefilter, policy, vector, 10,
        returned=store._search_returned(INTERVENTIONS),  # noqa: SLF001 - the store's own command
        dialect=store._layout.dialect,  # noqa: SLF001
    )  # fmt: skip


async def forms_for(target: MemcoreRedisTarget, workload: Workload) -> dict[str, list[Any]]:
    """Each form's command for every query of ``workload``."""
    outcome = SearchFilter.parse({"outcome": SEARCH_OUTCOME.value})
    adhoc_max = target.store.settings.adhoc_max_candidates  # type: ignore[attr-defined]
    plans = {}
    for user in workload.users:
        candidates = await target.store.count(user, outcome)
        plans[user] = "ADHOC_BF" if candidates <= adhoc_max else "BATCHES"
    print(f"memcore's plans: {sorted(set(plans.values()))}")
    forms: dict[str, list[Any]] = {}
    for name, extra, planned in (
        ("user + outcome (memcore), memcore's plan", "", True),
        ("user + kind + outcome (before), memcore's plan", KIND_CLAUSE, True),
        ("user + kind + outcome, the server's plan", KIND_CLAUSE, False),
    ):
        forms[name] = [
            command(
                target,
                query,
                f"{filter_query(query.user, outcome)} {extra}".strip(),
                plans[query.user] if planned else None,
            )
            for query in workload.queries
        ]
    return forms


async def timed(
    target: MemcoreRedisTarget, forms: dict[str, list[Any]], rounds: int
) -> dict[str, list[float]]:
    """Milliseconds per command, the forms alternated query by query in a fresh order."""
    for commands in forms.values():  # warm-up
        for cmd in commands[:30]:
            await call(target.raw, *cmd)
    times: dict[str, list[float]] = {name: [] for name in forms}
    order = random.Random(1)  # seeded: runs repeat
    queries = len(next(iter(forms.values())))
    for _ in range(rounds):
        for i in range(queries):
            for name in order.sample(list(forms), len(forms)):
                began = time.perf_counter()
                await call(target.raw, *forms[name][i])
                times[name].append((time.perf_counter() - began) * 1000)
    return times


async def run(n: int, users: int, rounds: int) -> None:
    workload = make_workload(n, users=users, dimension=384, queries=300)
    target = MemcoreRedisTarget("hash")
    try:
        await target.setup(workload)
        for user, rows in workload.batches(500):
            await target.ingest(user, workload.interventions[rows], workload.vectors[rows])
        times = await timed(target, await forms_for(target, workload), rounds)
        print(f"N = {n:,}, {users} users, raw FT.SEARCH, {rounds} x {len(workload.queries)}\n")
        print("| pre-filter and plan | p50 ms | mean ms |\n|---|---|---|")
        for name, found in times.items():
            print(f"| {name} | {np.median(found):.3f} | {np.mean(found):.3f} |")
    finally:
        await target.aclose()


def main() -> None:
    cli(run, __doc__ or "")


if __name__ == "__main__":
    main()
