"""Filtered KNN with HNSW ``EF_RUNTIME`` 10 (the server's default) against 20 (memcore's):
recall@10 and time, alternated query by query on one index.

    python adapters/memcore-redis/benchmarks/bench_ef_runtime.py --n 100000 --users 10

Loads memcore's Redis HASH target (as in ``memcore bench``) and sends the benchmark's
query (a user's interventions with outcome ``task_completed``, top 10) as memcore's raw
``FT.SEARCH`` with the plan memcore's planner picks for the user, once with each
``EF_RUNTIME`` in the query. Only the graph walk (``BATCHES``, users with more than
``ADHOC_MAX_CANDIDATES`` matching records) reads it: brute force is exact either way.
Prints each setting's recall@10 against the exact answer, p50 and mean.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from bench_knn_vs_redisvl import cli
from bench_prefilter import command

from memcore.domain import SearchFilter
from memcore_bench.redis_targets import MemcoreRedisTarget
from memcore_bench.workload import SEARCH_OUTCOME, Query, make_workload
from memcore_redis import RedisStore
from memcore_redis.commands import call
from memcore_redis.encoding import user_key_prefix
from memcore_redis.query import filter_query

EF_RUNTIMES = (10, 20)


def with_ef(knn: list[Any], ef: int) -> list[Any]:
    """``knn`` with ``EF_RUNTIME ef`` among its KNN attributes."""
    query = knn[2].replace(" AS __dist]", f" EF_RUNTIME {ef} AS __dist]")
    return [*knn[:2], query, *knn[3:]]


async def run(n: int, users: int, rounds: int) -> None:
    workload = make_workload(n, users=users, dimension=384, queries=300)
    target = MemcoreRedisTarget("hash")
    try:
        await target.setup(workload)
        for user, rows in workload.batches(500):
            await target.ingest(user, workload.interventions[rows], workload.vectors[rows])
        store = target.store
        assert isinstance(store, RedisStore)
        outcome = SearchFilter.parse({"outcome": SEARCH_OUTCOME.value})
        plans = {}
        for user in workload.users:
            candidates = await store.count(user, outcome)
            plans[user] = (
                "ADHOC_BF" if candidates <= store.settings.adhoc_max_candidates else "BATCHES"
            )

        def knn(query: Query, ef: int) -> list[Any]:
            prefilter = filter_query(query.user, outcome)
            plan = plans[query.user]
            found = command(target, query, prefilter, plan)
            return with_ef(found, ef) if plan == "BATCHES" else found  # exact: no EF

        times: dict[int, list[float]] = {ef: [] for ef in EF_RUNTIMES}
        recall: dict[int, list[float]] = {ef: [] for ef in EF_RUNTIMES}
        for query in workload.queries[:50]:  # warm-up
            for ef in EF_RUNTIMES:
                await call(store._client, *knn(query, ef))  # noqa: SLF001 - raw, on its pool
        for _ in range(rounds):
            for query in workload.queries:
                prefix = user_key_prefix(store.settings.key_prefix, query.user)
                for ef in EF_RUNTIMES:
                    began = time.perf_counter()
                    reply = await call(store._client, *knn(query, ef))  # noqa: SLF001
                    times[ef].append((time.perf_counter() - began) * 1000)
                    found = {key.decode().removeprefix(prefix) for key in reply[1::2]}
                    recall[ef].append(len(found & set(query.exact)) / max(1, len(query.exact)))
        print(f"N = {n:,}, {users} users, plans {sorted(set(plans.values()))}\n")
        print("| EF_RUNTIME | recall@10 | p50 ms | mean ms |\n|---|---|---|---|")
        for ef in EF_RUNTIMES:
            print(
                f"| {ef} | {np.mean(recall[ef]):.3f} | {np.median(times[ef]):.3f} "
                f"| {np.mean(times[ef]):.3f} |"
            )
    finally:
        await target.aclose()


def main() -> None:
    cli(run, __doc__ or "")


if __name__ == "__main__":
    main()
