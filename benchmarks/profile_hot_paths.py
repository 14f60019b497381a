"""Profile memcore's hot paths with pyinstrument: record, batch record, filtered search.

    python benchmarks/profile_hot_paths.py record|batch|search [--store memory|redis]
        [--n 20000] [--html out.html]

The data is the benchmark workload (:mod:`memcore_bench.workload`); embeddings are
precomputed, so the profile shows memcore and the store, not a model. ``--store redis``
starts an embedded Redis Stack (agent-memcore-redis[server]). Needs ``pip install pyinstrument``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Iterator

from pyinstrument import Profiler

from memcore import MemoryService
from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.ports import MemoryStore
from memcore_bench.targets import intervention_item
from memcore_bench.workload import SEARCH_OUTCOME, Workload, make_workload


@contextlib.contextmanager
def open_store(kind: str) -> Iterator[MemoryStore]:
    if kind == "memory":
        yield InMemoryStore()
        return
    from memcore_redis import RedisSettings, RedisStore  # noqa: PLC0415 - optional
    from memcore_redis.testing import EmbeddedRedis  # noqa: PLC0415

    with EmbeddedRedis() as server:
        yield RedisStore(RedisSettings(url=server.url))


async def load(memory: MemoryService, workload: Workload) -> None:
    for user, rows in workload.batches(500):
        items = [intervention_item(r) for r in workload.interventions[rows]]
        await memory.record_interventions(user, items, embeddings=workload.vectors[rows])


async def profile(path: str, store: MemoryStore, workload: Workload, profiler: Profiler) -> str:
    memory = MemoryService(store, HashingEmbedder(dimension=workload.dimension))
    await memory.start()
    try:
        if path != "batch":
            await load(memory, workload)
        records = workload.interventions[:2_000]
        profiler.start()
        started = time.perf_counter()
        if path == "batch":
            await load(memory, workload)
            figure = f"{len(workload.interventions) / (time.perf_counter() - started):,.0f} rec/s"
        elif path == "record":
            for n, r in enumerate(records):
                await memory.record_intervention(
                    r.user_id, r.intervention_text, task=r.task, context=r.context,
                    outcome=r.outcome, metadata=r.metadata, id=f"w{n}",
                    embedding=workload.vectors[n],
                )  # fmt: skip
            figure = f"{(time.perf_counter() - started) / len(records) * 1e6:.1f} us/call"
        else:
            for q in workload.queries:
                await memory.search_interventions(
                    q.user, q.vector, k=workload.k, filters={"outcome": SEARCH_OUTCOME.value}
                )
            figure = f"{(time.perf_counter() - started) / len(workload.queries) * 1e6:.1f} us/call"
        profiler.stop()
    finally:
        await memory.aclose()
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=["record", "batch", "search"])
    parser.add_argument("--store", choices=["memory", "redis"], default="memory")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--html", help="also write an HTML profile here")
    args = parser.parse_args()
    workload = make_workload(args.n, users=max(10, args.n // 1_000), queries=1_000)
    profiler = Profiler(interval=0.0005)
    with open_store(args.store) as store:
        figure = asyncio.run(profile(args.path, store, workload, profiler))
    print(f"{args.path} on {args.store}, N = {args.n:,}: {figure} (under the profiler)")
    print(profiler.output_text(unicode=False, color=False))
    if args.html:
        with open(args.html, "w", encoding="utf-8") as handle:  # noqa: PTH123 - one file
            handle.write(profiler.output_html())


if __name__ == "__main__":
    main()
