"""In-memory store: exact search vs the bare numpy floor, and single-record latency.

    python benchmarks/bench_memory.py [--records 100000] [--dimension 384] [--queries 300]

Prints a markdown table. The floor is the least any exact search can do on the same data:
one matrix-vector product over the user's rows plus an ``argpartition`` for the top k.
Floor and memcore calls are interleaved so machine drift hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import timedelta

import numpy as np

from memcore import Intervention, MemoryService, SearchFilter
from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.domain import utcnow
from memcore.ports import UnitVectors

K = 10


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e3, ordered[int(len(ordered) * 0.99) - 1] * 1e3


async def run(records: int, dimension: int, queries: int) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((records, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = InMemoryStore()
    memory = MemoryService(store, HashingEmbedder(dimension=dimension))
    await memory.start()
    start = utcnow()
    batch = 1_000
    for offset in range(0, records, batch):
        rows = range(offset, min(offset + batch, records))
        await store.upsert(
            "user-1",
            [
                Intervention(
                    id=f"i{n}",
                    user_id="user-1",
                    intervention_text=f"tip {n}",
                    task="t",
                    created_at=start + timedelta(seconds=n),
                )
                for n in rows
            ],
            UnitVectors(vectors[offset : offset + len(rows)]),
        )
    matrix = vectors  # the floor searches the very same rows
    probes = rng.standard_normal((queries, dimension)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    floor, store_search, service_search = [], [], []
    no_filter = SearchFilter()
    for query in probes:
        t0 = time.perf_counter()
        scores = matrix @ query
        top = np.argpartition(scores, len(scores) - K)[-K:]
        top[np.argsort(-scores[top])]
        t1 = time.perf_counter()
        await store.search("user-1", query, K, no_filter)
        t2 = time.perf_counter()
        await memory.search_interventions("user-1", query, k=K)
        t3 = time.perf_counter()
        floor.append(t1 - t0)
        store_search.append(t2 - t1)
        service_search.append(t3 - t2)

    writes = []
    one = vectors[0]
    for n in range(2_000):
        t0 = time.perf_counter()
        await memory.record_intervention("user-2", "tip", task="t", id=f"w{n}", embedding=one)
        writes.append(time.perf_counter() - t0)
    await memory.aclose()

    floor_p50, floor_p99 = _ms(floor)
    print(f"# in-memory store, {records:,} records x {dimension} dims, one user, k={K}\n")
    print("| operation | p50 ms | p99 ms | p50 / floor |")
    print("|---|---|---|---|")
    print(f"| numpy floor (matvec + argpartition) | {floor_p50:.3f} | {floor_p99:.3f} | 1.00x |")
    for name, samples in (
        ("InMemoryStore.search", store_search),
        ("MemoryService.search_interventions (vector)", service_search),
    ):
        p50, p99 = _ms(samples)
        print(f"| {name} | {p50:.3f} | {p99:.3f} | {p50 / floor_p50:.2f}x |")
    p50, p99 = _ms(writes)
    print(f"| record_intervention, precomputed embedding | {p50:.3f} | {p99:.3f} | - |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(run(args.records, args.dimension, args.queries))


if __name__ == "__main__":
    main()
