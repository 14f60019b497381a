"""Filtered KNN with HNSW ``EF_RUNTIME`` 10 (the server's default) against 20 (memcore's),
and with fixed batch sizes against the server's own: recall@10 and time, alternated query
by query on one index.

    python adapters/memcore-redis/benchmarks/bench_ef_runtime.py --n 100000 --users 10

Loads memcore's Redis HASH target (as in ``memcore bench``) and sends the benchmark's
query (a user's interventions with outcome ``task_completed``, top 10) as memcore's raw
``FT.SEARCH`` with the plan memcore's planner picks for the user, once with each of
:data:`SETTINGS` among the query's KNN attributes: each ``EF_RUNTIME``, and a fixed
``BATCH_SIZE`` (memcore sends none: the server sizes each batch from ``k`` and how rare
the user's records are in the index). Only the graph walk (``BATCHES``, users with more
than ``ADHOC_MAX_CANDIDATES`` matching records) reads them: brute force is exact either
way. Prints each setting's recall@10 against the exact answer, p50 and mean.
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

SETTINGS = (
    "EF_RUNTIME 10",
    "EF_RUNTIME 20",
    "EF_RUNTIME 20 BATCH_SIZE 20",
    "EF_RUNTIME 20 BATCH_SIZE 50",
    "EF_RUNTIME 20 BATCH_SIZE 100",
)
"""KNN attributes compared; memcore's own query is the second (its index's EF_RUNTIME)."""


def with_attributes(knn: list[Any], attributes: str) -> list[Any]:
    """``knn`` with ``attributes`` among its KNN attributes."""
    query = knn[2].replace(" AS __dist]", f" {attributes} AS __dist]")
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

        def knn(query: Query, attributes: str) -> list[Any]:
            prefilter = filter_query(query.user, outcome)
            plan = plans[query.user]
            found = command(target, query, prefilter, plan)
            # Brute force is exact and takes none of these.
            return with_attributes(found, attributes) if plan == "BATCHES" else found

        times: dict[str, list[float]] = {name: [] for name in SETTINGS}
        recall: dict[str, list[float]] = {name: [] for name in SETTINGS}
        for query in workload.queries[:50]:  # warm-up
            for name in SETTINGS:
                await call(store._client, *knn(query, name))  # noqa: SLF001 - raw, on its pool
        for _ in range(rounds):
            for query in workload.queries:
                prefix = user_key_prefix(store.settings.key_prefix, query.user)
                for name in SETTINGS:
                    began = time.perf_counter()
                    reply = await call(store._client, *knn(query, name))  # noqa: SLF001
                    times[name].append((time.perf_counter() - began) * 1000)
                    found = {key.decode().removeprefix(prefix) for key in reply[1::2]}
                    recall[name].append(len(found & set(query.exact)) / max(1, len(query.exact)))
        print(f"N = {n:,}, {users} users, plans {sorted(set(plans.values()))}\n")
        print("| KNN attributes | recall@10 | p50 ms | mean ms |\n|---|---|---|---|")
        for name in SETTINGS:
            print(
                f"| {name} | {np.mean(recall[name]):.3f} | {np.median(times[name]):.3f} "
                f"| {np.mean(times[name]):.3f} |"
            )
    finally:
        await target.aclose()


def main() -> None:
    cli(run, __doc__ or "")


if __name__ == "__main__":
    main()
