"""What ``what_worked``'s candidate count buys: how its answers change with the number of
nearest interventions it ranks, on the benchmark workload.

For each query of the workload (a user's situation, as its synthetic embedding), the
nearest ``max(--candidates)`` interventions of the user are found once
(``InMemoryStore.search``), then ranked as ``what_worked`` ranks them
(:func:`~memcore.domain.worked.rank_worked`, the default weights, k 5) from the nearest
``c`` of them, for each ``c`` of ``--candidates``. Prints, per ``c``, the means over the
queries of: the share of the k hits whose outcome is ``task_completed``, their
similarity and score, and their overlap with the answer from the most candidates.

    python benchmarks/bench_what_worked.py [--n 20000] [--users 20] [--queries 500] \\
        [--candidates 5 10 20 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from typing import cast

from memcore import Intervention, Outcome, SearchFilter, SearchHit
from memcore.adapters.memory import InMemoryStore
from memcore.domain import EmbeddingSchema, RecordKind, utcnow
from memcore.domain.worked import WhatWorked, rank_worked
from memcore.ports import UnitVectors
from memcore.settings import WhatWorkedSettings
from memcore_bench.workload import make_workload

K = 5
INTERVENTIONS = SearchFilter().with_kind(RecordKind.INTERVENTION)


def measures(answer: WhatWorked, widest: WhatWorked) -> dict[str, float]:
    """One answer's figures: completed share, mean similarity and score, overlap."""
    hits = answer.hits
    same = {hit.record.id for hit in widest.hits} & {hit.record.id for hit in hits}
    return {
        "task_completed among the hits": sum(
            hit.record.outcome is Outcome.TASK_COMPLETED for hit in hits
        )
        / len(hits),
        "mean similarity": statistics.mean(hit.similarity for hit in hits),
        "mean score": statistics.mean(hit.score for hit in hits),
        "same hits as the widest": len(same) / len(hits),
    }


async def run(n: int, users: int, queries: int, counts: list[int]) -> str:
    workload = make_workload(n, users=users, dimension=384, queries=queries)
    store = InMemoryStore()
    await store.ensure_schema(EmbeddingSchema(dimension=384, model="bench"))
    for user, rows in workload.batches(500):
        await store.upsert(user, workload.interventions[rows], UnitVectors(workload.vectors[rows]))
    weights = WhatWorkedSettings().outcome_weights
    found: dict[int, list[dict[str, float]]] = {count: [] for count in counts}
    for query in workload.queries:
        nearest = await store.search(
            query.user, UnitVectors(query.vector), max(counts), INTERVENTIONS
        )
        matches = cast("list[SearchHit[Intervention]]", nearest)  # the filter's kind
        answers = {
            count: rank_worked(matches[:count], k=K, weights=weights, half_life=None, now=utcnow())
            for count in counts
        }
        for count, answer in answers.items():
            found[count].append(measures(answer, answers[max(counts)]))
    names = list(found[counts[0]][0])
    lines = [
        f"N = {n:,} interventions, {users} users, {queries} situations, k {K}\n",
        "| candidates | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for count, figures in found.items():
        means = [statistics.mean(figure[name] for figure in figures) for name in names]
        lines.append(f"| {count} | " + " | ".join(f"{mean:.3f}" for mean in means) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--candidates", type=int, nargs="+", default=[5, 10, 20, 40])
    args = parser.parse_args()
    counts = sorted(set(args.candidates))
    print(asyncio.run(run(args.n, args.users, args.queries, counts)))


if __name__ == "__main__":
    main()
