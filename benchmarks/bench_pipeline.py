"""What the pipeline costs a search: the service through the full default stack against
the bare store's own search, on the same store and data, calls interleaved.

The service is built by the container with the default settings (degradation with its
durable outbox, breakers, metrics, retry, per-operation logs and metrics) around the very
store the bare calls use; queries pass precomputed embeddings, so the figure is memcore's
layers (validation, filters, the policies), not a model. Targets: in-memory p50 at most
1.2x the bare store's; Redis p50 at most 0.05 ms above the bare ``RedisStore`` call.

The last column is this process's CPU time per search (p50; over the bare store's in
brackets): what memcore's layers cost without the Redis server's time, steadier than wall
time on busy cores. A second table splits memcore's share by layer, on an in-memory store
whose search answers at once with one fixed answer (so the store's own time, and its
noise, is out): the store call alone, the same call through the store's policies
(``service.store``), and the whole ``search_interventions`` (validation, the use case,
logs and metrics on top).

With ``--steps``, a third table per store times, in place over the real store, what each
step adds to the bare call, each step against the bare store in an interleaved run of its
own: the service's input checks alone (then the same bare call), split into the user,
``k`` and filter checks and the query vector's, the store's policies alone
(``service.store``), and the whole ``search_interventions``.

    python benchmarks/bench_pipeline.py [--n 10000] [--users 10] [--queries 2000] \\
        [--no-redis] [--steps]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, NamedTuple

from dependency_injector import providers

from memcore import MemoryService, SearchFilter
from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.container import Container, build_service
from memcore.domain import MemoryRecord, RecordKind, SearchHit
from memcore.pipeline import Call
from memcore.ports import MemoryStore, UnitVectors
from memcore.validation import unit_vector, validate_filters, validate_k, validate_user_id
from memcore_bench.targets import intervention_item
from memcore_bench.workload import SEARCH_OUTCOME, Workload, make_workload

K = 10
WARMUP = 200
# The bare store's filter, and the one the service is given (it narrows it to the kind).
BARE_FILTER = SearchFilter(outcome=SEARCH_OUTCOME).with_kind(RecordKind.INTERVENTION)
SERVICE_FILTER = {"outcome": SEARCH_OUTCOME.value}
Timed = Callable[[int], Awaitable[Any]]


@contextlib.asynccontextmanager
async def service_around(store: MemoryStore, dimension: int) -> AsyncIterator[MemoryService]:
    """The container's service (default settings) around ``store``."""
    container = Container()
    container.store.override(providers.Object(store))
    container.embedder.override(providers.Object(HashingEmbedder(dimension=dimension)))
    service = await build_service(container)
    try:
        yield service
    finally:
        await service.aclose()


async def load(service: MemoryService, workload: Workload) -> None:
    for user, rows in workload.batches(500):
        items = [intervention_item(r) for r in workload.interventions[rows]]
        await service.record_interventions(user, items, embeddings=workload.vectors[rows])


class Searches(NamedTuple):
    """One search of query ``i``, three ways: the bare store, the store through the
    policies ``connect()`` puts around it, and the whole service.
    """

    bare: Timed
    policies: Timed
    service: Timed


def searches(service: MemoryService, store: MemoryStore, workload: Workload) -> Searches:
    queries = workload.queries
    vectors = [UnitVectors(q.vector) for q in queries]

    async def bare(i: int) -> Any:
        return await store.search(queries[i].user, vectors[i], K, BARE_FILTER)

    async def policies(i: int) -> Any:
        args = {"vector": vectors[i], "k": K, "filters": BARE_FILTER}
        return await service.store.run(Call("store", "search", queries[i].user, args))

    async def through(i: int) -> Any:
        query = queries[i]
        return await service.search_interventions(query.user, query.vector, K, SERVICE_FILTER)

    return Searches(bare, policies, through)


async def measure(
    store: MemoryStore, workload: Workload, *, steps: bool = False
) -> tuple[tuple[dict[str, list[float]], dict[str, list[float]]], list[str]]:
    """Per target, the milliseconds of each query (wall clock, CPU), the two targets
    alternating first; with ``steps``, the rows of the steps table too.
    """
    async with service_around(store, workload.dimension) as service:
        await load(service, workload)
        calls = searches(service, store, workload)
        for i in range(min(WARMUP, len(workload.queries))):
            assert [h.record.id for h in await calls.bare(i)] == [
                h.record.id for h in await calls.service(i)
            ], "both answer the same"
        measured = await interleaved(
            {"bare store": calls.bare, "service (full stack)": calls.service},
            len(workload.queries),
        )
        if not steps:
            return measured, []
        return measured, await step_rows(service, workload, calls)


async def step_rows(service: MemoryService, workload: Workload, calls: Searches) -> list[str]:
    """The steps table's rows: each step in place, against the bare store in a run of its
    own.
    """
    queries, limits, dimension = workload.queries, service.limits, workload.dimension
    bare = calls.bare

    def arguments(i: int) -> None:
        validate_user_id(queries[i].user)
        validate_k(K, limits)
        validate_filters(SERVICE_FILTER, limits, kind=RecordKind.INTERVENTION)

    def query_vector(i: int) -> None:
        unit_vector(queries[i].vector, dimension)

    def before_bare(*checks: Callable[[int], None]) -> Timed:
        async def step(i: int) -> Any:
            for check in checks:
                check(i)
            return await bare(i)

        return step

    named = {
        "the input checks": before_bare(arguments, query_vector),
        "of which the user, k and filters": before_bare(arguments),
        "of which the query vector (unit_vector)": before_bare(query_vector),
        "the store's policies": calls.policies,
        "the whole search_interventions": calls.service,
    }
    lines = []
    for name, step in named.items():
        samples, _ = await interleaved({"bare": bare, name: step}, len(queries))
        base, over = (statistics.median(samples[key]) for key in ("bare", name))
        lines.append(f"| {name} | {over / base:.2f}x | {(over - base) * 1000:+.1f} |")
    return lines


async def interleaved(
    targets: dict[str, Timed], count: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per target, the milliseconds of each of ``count`` queries, the targets taking turns
    first: wall-clock time, and this process's CPU time (without a Redis server's).
    """
    samples: dict[str, list[float]] = {name: [] for name in targets}
    cpu: dict[str, list[float]] = {name: [] for name in targets}
    gc.collect()
    gc.disable()
    try:
        for i in range(count):
            order = list(targets) if i % 2 == 0 else list(reversed(targets))
            for name in order:
                # The CPU clock (a system call) is read outside the wall-clock window.
                used = time.process_time_ns()
                started = time.perf_counter_ns()
                await targets[name](i)
                elapsed = time.perf_counter_ns() - started
                cpu[name].append((time.process_time_ns() - used) / 1e6)
                samples[name].append(elapsed / 1e6)
    finally:
        gc.enable()
    return samples, cpu


class CannedStore(InMemoryStore):
    """An in-memory store whose search answers at once, always with :attr:`answer`."""

    answer: list[SearchHit[MemoryRecord]]

    async def search(
        self, user_id: str, vector: UnitVectors, k: int, filters: SearchFilter
    ) -> list[SearchHit[MemoryRecord]]:
        del user_id, vector, k, filters
        return self.answer


async def layers(workload: Workload) -> list[str]:
    """The layers table: each layer's p50 in microseconds, and what it adds."""
    store = CannedStore()
    queries = workload.queries
    async with service_around(store, workload.dimension) as service:
        await load(service, workload)
        first = UnitVectors(queries[0].vector)
        store.answer = await InMemoryStore.search(store, queries[0].user, first, K, BARE_FILTER)
        calls = searches(service, store, workload)
        targets: dict[str, Timed] = {
            "store call (canned answer)": calls.bare,
            "+ store policies (degradation, breaker, metrics, retry)": calls.policies,
            "+ service (validation, use case, logs and metrics)": calls.service,
        }
        samples, _ = await interleaved(targets, len(queries))
    lines = ["| layer | p50 (µs) | adds (µs) |", "|---|---|---|"]
    below = 0.0
    for name, times in samples.items():
        p50 = statistics.median(times) * 1000
        lines.append(f"| {name} | {p50:.1f} | {p50 - below:+.1f} |")
        below = p50
    return lines


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[round(q) - 1]


def rows(store: str, measured: tuple[dict[str, list[float]], dict[str, list[float]]]) -> list[str]:
    samples, cpu = measured
    bare, through = samples["bare store"], samples["service (full stack)"]
    bare50, through50 = statistics.median(bare), statistics.median(through)
    bare_cpu = statistics.median(cpu["bare store"])
    through_cpu = statistics.median(cpu["service (full stack)"])
    return [
        f"| {store} | bare store | {bare50:.3f} | {p(bare, 99):.3f} | | | {bare_cpu:.3f} |",
        (
            f"| {store} | service (full stack) | {through50:.3f} | {p(through, 99):.3f} "
            f"| {through50 / bare50:.2f}x | {through50 - bare50:+.3f} "
            f"| {through_cpu:.3f} ({through_cpu - bare_cpu:+.3f}) |"
        ),
    ]


@contextlib.contextmanager
def redis_store() -> Iterator[MemoryStore]:
    from memcore_redis import RedisSettings, RedisStore  # noqa: PLC0415 - optional
    from memcore_redis.testing import EmbeddedRedis  # noqa: PLC0415

    with EmbeddedRedis() as server:
        yield RedisStore(RedisSettings(url=server.url))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="Records.")
    parser.add_argument("--users", type=int, default=10, help="Users the records spread over.")
    parser.add_argument("--queries", type=int, default=2_000, help="Filtered searches.")
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--no-redis", action="store_true", help="In-memory only.")
    parser.add_argument("--steps", action="store_true", help="Time each step in place too.")
    args = parser.parse_args()
    # The default stack's durable outbox writes under the state directory: a fresh one.
    os.environ["MEMCORE_STATE_DIR"] = tempfile.mkdtemp(prefix="bench-pipeline-")
    workload = make_workload(
        args.n, users=args.users, dimension=args.dimension, queries=args.queries, k=K
    )
    lines = [
        (
            f"N = {args.n:,} records, {args.users} users, {args.queries:,} filtered top-{K} "
            f"searches, dimension {args.dimension}"
        ),
        "",
        (
            "| store | target | p50 (ms) | p99 (ms) | p50 ratio | p50 over bare (ms) "
            "| CPU p50 (ms) |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    measured, in_memory = await measure(InMemoryStore(), workload, steps=args.steps)
    lines += rows("in-memory", measured)
    stepped = {"in-memory": in_memory}
    if not args.no_redis:
        with redis_store() as store:
            measured, stepped["Redis (hash)"] = await measure(store, workload, steps=args.steps)
            lines += rows("Redis (hash)", measured)
    lines += ["", "memcore's layers, on a store that answers at once:", "", *await layers(workload)]
    for name, found in stepped.items():
        if found:
            head = ["| step | p50 ratio | p50 over bare (µs) |", "|---|---|---|"]
            lines += ["", f"Each step alone, in place over the {name} store:", "", *head, *found]
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
