"""One benchmark run: every target on the same workload, operations interleaved.

Each batch, write and query goes to every target in turn, in an order drawn afresh each
time, so machine drift (other processes, CPU frequency, a server's background work) lands
on all of them alike: no target always runs first, last, or right after the same other
target (whose leftover work, such as its server's lazy frees, it would otherwise inherit).

All targets share this process, so the timed phases run with what ingest built frozen out of
the garbage collector's reach (:func:`gc.freeze`, as a long-running service does after
start-up): otherwise a full collection walking one target's heap, the in-memory store's
million records, say, lands as a pause on whichever target happens to be running.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import random
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from memcore_bench.targets import Target
from memcore_bench.workload import Workload

T = TypeVar("T")
BATCH = 500
WARM_UP_QUERIES = 20


@dataclass
class Figures:
    """What one target measured in one run. Latencies in milliseconds."""

    ingest_rps: float | None = None
    bytes_per_record: float | None = None
    recall: float | None = None
    knn_ms: list[float] = field(default_factory=list)
    write_ms: list[float] = field(default_factory=list)
    health_ms: list[float] = field(default_factory=list)


def shuffled(items: Sequence[T], turn: int) -> list[T]:
    """``items`` in an order drawn for ``turn`` (seeded by it, so every run repeats)."""
    return random.Random(turn).sample(list(items), len(items))


async def _timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1e3


async def run_targets(
    workload: Workload,
    targets: Sequence[Target],
    *,
    writes: int = 1_000,
    health_checks: int = 200,
) -> dict[str, Figures]:
    """Measure every target on ``workload``; closes the targets."""
    figures = {target.name: Figures() for target in targets}
    try:
        for target in targets:
            await target.setup(workload)
        await _ingest(workload, targets, figures)
        for target in targets:
            await target.load_reflections(workload)
        with _heap_frozen():
            await _knn(workload, targets, figures)
            await _writes(workload, targets, figures, writes)
            await _health(targets, figures, health_checks)
    finally:
        for target in targets:
            await target.aclose()
    return figures


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """Every object alive now out of the collector's reach until the block ends."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def _ingest(
    workload: Workload, targets: Sequence[Target], figures: dict[str, Figures]
) -> None:
    before = {target.name: await target.used_bytes() for target in targets}
    spent = dict.fromkeys(figures, 0.0)
    for turn, (user, rows) in enumerate(workload.batches(BATCH)):
        records, vectors = workload.interventions[rows], workload.vectors[rows]
        for target in shuffled(targets, turn):
            spent[target.name] += await _timed(
                functools.partial(target.ingest, user, records, vectors)
            )
    count = len(workload.interventions)
    for target in targets:
        figures[target.name].ingest_rps = count / (spent[target.name] / 1e3)
        start, end = before[target.name], await target.used_bytes()
        if start is not None and end is not None:
            figures[target.name].bytes_per_record = (end - start) / count


async def _knn(workload: Workload, targets: Sequence[Target], figures: dict[str, Figures]) -> None:
    for query in workload.queries[:WARM_UP_QUERIES]:  # connections, caches, code paths
        for target in targets:
            await target.knn(query, workload.k)
    found = dict.fromkeys(figures, 0)
    for turn, query in enumerate(workload.queries):
        for target in shuffled(targets, turn):
            started = time.perf_counter()
            ids = await target.knn(query, workload.k)
            figures[target.name].knn_ms.append((time.perf_counter() - started) * 1e3)
            found[target.name] += len(set(ids) & set(query.exact))
    expected = sum(len(query.exact) for query in workload.queries)
    for target in targets:
        figures[target.name].recall = found[target.name] / expected if expected else None


async def _writes(
    workload: Workload, targets: Sequence[Target], figures: dict[str, Figures], rounds: int
) -> None:
    for turn in range(rounds):
        row = turn % len(workload.interventions)
        record = dataclasses.replace(workload.interventions[row], id=f"w{turn}")
        vector = workload.vectors[row]
        for target in shuffled(targets, turn):
            ms = await _timed(functools.partial(target.write_one, record, vector))
            figures[target.name].write_ms.append(ms)


async def _health(targets: Sequence[Target], figures: dict[str, Figures], rounds: int) -> None:
    checked = [target for target in targets if await target.health()]
    for turn in range(rounds):
        for target in shuffled(checked, turn) if checked else ():
            figures[target.name].health_ms.append(await _timed(target.health))


async def traced_bytes(make: Callable[[], Target], workload: Workload) -> float:
    """Bytes per intervention an in-process target keeps, by tracemalloc on a fresh instance.

    Separate from the timed run: tracing slows every allocation.
    """
    target = make()
    await target.setup(workload)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for user, rows in workload.batches(BATCH):
            await target.ingest(user, workload.interventions[rows], workload.vectors[rows])
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        await target.aclose()
    return used / len(workload.interventions)
