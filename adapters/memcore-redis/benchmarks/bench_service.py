"""The service as ``memcore.connect()`` builds it, the bare ``RedisStore`` and the raw
redis-py floor, in one run, hash and JSON: single add, bulk ingest and filtered KNN.

    python adapters/memcore-redis/benchmarks/bench_service.py --n 10000

An embedded server per storage type, the data of ``bench_redis.py`` (384 dimensions, 20
users), and precomputed embeddings everywhere (the service takes them through its public API, with
the retry, metrics, breaker and degradation layers ``connect()`` adds). A third memcore
column, *store + policies*, sends the same validated records and vectors as the bare store
through those layers alone (``service.store`` of a second ``connect()``, an index of its
own): it splits the service's cost between its policies and its methods (validation,
building the record, the use case, the operation's metrics). Per storage type:

- **single add**: one new record a call (``record_intervention(..., embedding=...)``;
  ``store.upsert`` of one record; one ``HSET`` or ``JSON.SET``), in blocks of 25 that
  alternate between the targets (each target first in turn); p50 of the wall time, and
  per add:

  - *client time*: the block's wall time minus its *server time*, per add (issue 21's
    definition): what the client computes, sends and parses, with the network and the
    scheduler; the median of the blocks, so that a block the server stalled in (a
    fork of RediSearch's garbage collector, another process on the cores) does not
    weigh;
  - *server time*: what the server spent executing the block's commands, from the
    ``usec`` of ``INFO commandstats`` read before and after it (``server_usec``), the
    median of the blocks;
  - *client CPU*: this process's CPU time (``time.process_time``) over all blocks, an
    extra row: it also counts the event loop's own system calls and the client's work
    that overlaps the server's on the other core, so it is not the client time;
- **bulk ingest**: records a second, 500 a call, a user's records at a time, the
  targets taking turns call by call (``record_interventions`` with ``embeddings``;
  ``store.upsert``; a pipeline of 500 ``HSET``/``JSON.SET``); the client time per
  ingested record (the median of the calls, as for an add) and the client CPU per record;
- **filtered KNN**: p50 and p99 of a user's 10 nearest (``search_interventions`` with a
  query vector; ``store.search``; ``FT.SEARCH`` with the service's pre-filter, the user's
  interventions, returning the record's fields but not the vector), alternating (each
  target first in turn), once every index is built (see :func:`built`).

Prints a table per storage type, every figure beside the floor's and its ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import numpy as np
import orjson
import redis.asyncio as aioredis
from bench_redis import Data, floor_fields, make_data, server_usec
from numpy.typing import NDArray

import memcore
from memcore.domain import RecordKind, SearchFilter
from memcore.pipeline import Call as PipelineCall
from memcore.ports import UnitVectors
from memcore_bench.redis_targets import indexes_built
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.commands import call
from memcore_redis.testing import EmbeddedRedis

BATCH = 500
DIM = 384  # the hashing embedder's default: connect() builds it with this dimension
TEXT = "Tried the breathing routine after the check-in"
INTERVENTIONS = SearchFilter(kind=RecordKind.INTERVENTION)  # the service's and the floor's

Call = Callable[[], Awaitable[object]]
Ingest = Callable[[str, NDArray[np.intp]], Awaitable[None]]  # one batch: a user's rows


class Target:
    """One way to write and search, with what the client and the server spent on it."""

    def __init__(self, name: str, add: Call, ingest: Ingest,
                 knn: Callable[[str, NDArray[np.float32]], Awaitable[object]]) -> None:  # fmt: skip
        self.name, self.add, self.ingest, self.knn = name, add, ingest, knn
        self.add_ms: list[float] = []
        self.add_client_us: list[float] = []  # per block of adds, per add
        self.add_server_us: list[float] = []
        self.add_cpu_s = 0.0
        self.knn_ms: list[float] = []
        self.ingest_s = 0.0
        self.ingest_client_us: list[float] = []  # per batch, per record
        self.ingest_cpu_s = 0.0


async def floor_target(
    raw: aioredis.Redis, storage: str, one: dict[Any, Any], data: Data
) -> Target:
    """redis-py with hiredis: a pipeline of HSET or JSON.SET, a bare FT.SEARCH with the
    service's filter returning the record's fields; a single add writes the fields ``one``
    under a new key.
    """
    json_storage = storage == "json"
    on = "$." if json_storage else ""
    await call(
        raw, "FT.CREATE", f"floor-{storage}", "ON", storage.upper(), "PREFIX", 1,
        f"floor-{storage}:", "SCHEMA",
        *(item for name in ("user_id", "kind", "outcome", "task")
          for item in (f"{on}{name}", "AS", name, "TAG")),
        f"{on}created_at", "AS", "created_at", "NUMERIC", f"{on}vec", "AS", "vec", "VECTOR",
        "HNSW", 10, "TYPE", "FLOAT32", "DIM", DIM, "DISTANCE_METRIC", "COSINE",
        "M", 16, "EF_CONSTRUCTION", 200,
    )  # fmt: skip

    def command(key: str, fields: dict[Any, Any]) -> tuple[Any, ...]:
        if not json_storage:
            return ("HSET", key, *itertools.chain.from_iterable(fields.items()))
        vector = np.frombuffer(fields.pop("vec"), dtype=np.float32)
        document = {**fields, "vec": vector}
        return ("JSON.SET", key, "$", orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY))

    fresh = itertools.count()

    async def add() -> None:
        await raw.execute_command(*command(f"floor-{storage}:s{next(fresh)}", dict(one)))  # type: ignore[no-untyped-call]

    async def ingest(_: str, rows: NDArray[np.intp]) -> None:
        async with raw.pipeline(transaction=False) as pipe:
            for i in rows:
                fields = floor_fields(data.records[i], data.vectors[i])
                pipe.execute_command(*command(f"floor-{storage}:{i}", fields))
            await pipe.execute()

    # What a user needs back: the record's fields, not its vector (a bare FT.SEARCH
    # returns every field, the vector too, or for JSON the whole document).
    names = [name for name in one if name != "vec"]
    returned = [item for name in names for item in (f"{on}{name}", "AS", name)]

    async def knn(user: str, query: NDArray[np.float32]) -> object:
        tag = user.replace("-", "\\-")
        # The service's filter: the user's interventions.
        prefilter = f"@user_id:{{{tag}}} @kind:{{intervention}}"
        return await call(
            raw, "FT.SEARCH", f"floor-{storage}", f"({prefilter})=>[KNN 10 @vec $v]",
            "PARAMS", 2, "v", query.tobytes(), "RETURN", len(returned), *returned,
            "DIALECT", 2,
        )  # fmt: skip

    return Target("redis-py floor", add, ingest, knn)


def store_target(store: RedisStore, vector: NDArray[np.float32], data: Data) -> Target:
    """The bare store: validated records and vectors handed straight to it."""
    fresh = itertools.count()
    user = data.users[0]

    async def add() -> None:
        record = replace(data.records[0], id=f"s{next(fresh)}", user_id=user)
        await store.upsert(user, [record], UnitVectors(vector[None, :]))

    async def ingest(name: str, rows: NDArray[np.intp]) -> None:
        records = [data.records[i] for i in rows]
        await store.upsert(name, records, UnitVectors(data.vectors[rows]))

    async def knn(user: str, query: NDArray[np.float32]) -> object:
        return await store.search(user, UnitVectors(query), 10, INTERVENTIONS)

    return Target("memcore store only", add, ingest, knn)


def policies_target(
    service: memcore.MemoryService, vector: NDArray[np.float32], data: Data
) -> Target:
    """The store through the policies ``connect()`` puts around it (``service.store``),
    without the service's methods: validated records and vectors, as the store takes them.
    """
    fresh = itertools.count()
    user = data.users[0]

    def run(user_id: str, operation: str, **args: Any) -> Awaitable[object]:
        return service.store.run(PipelineCall("store", operation, user_id, args))

    async def add() -> None:
        record = replace(data.records[0], id=f"p{next(fresh)}", user_id=user)
        await run(user, "upsert", records=[record], vectors=UnitVectors(vector[None, :]))

    async def ingest(name: str, rows: NDArray[np.intp]) -> None:
        records = [data.records[i] for i in rows]
        await run(name, "upsert", records=records, vectors=UnitVectors(data.vectors[rows]))

    async def knn(user: str, query: NDArray[np.float32]) -> object:
        return await run(user, "search", vector=UnitVectors(query), k=10, filters=INTERVENTIONS)

    return Target("memcore store + policies", add, ingest, knn)


def service_target(
    service: memcore.MemoryService, vector: NDArray[np.float32], data: Data
) -> Target:
    """The service ``connect()`` built, through its public API with embeddings given."""
    user = data.users[0]

    async def add() -> None:
        await service.record_intervention(user, TEXT, task="breathing", embedding=vector)

    async def ingest(name: str, rows: NDArray[np.intp]) -> None:
        items = [_item(data.records[i]) for i in rows]
        await service.record_interventions(name, items, embeddings=data.vectors[rows])

    async def knn(user: str, query: NDArray[np.float32]) -> object:
        return await service.search_interventions(user, query, 10)

    return Target("memcore service", add, ingest, knn)


def _item(record: Any) -> dict[str, Any]:
    return {
        "id": record.id, "intervention_text": record.intervention_text, "task": record.task,
        "context": record.context, "outcome": record.outcome, "created_at": record.created_at,
        "metadata": dict(record.metadata),
    }  # fmt: skip


async def measure(targets: list[Target], data: Data, adds: int, raw: aioredis.Redis) -> None:
    """Ingest into every target a batch at a time, then alternate single adds and KNN
    queries among them; ``raw`` reads the server's time around each batch and block.
    """
    batches = [
        (name, rows[start : start + BATCH])
        for u, name in enumerate(data.users)
        for rows in [np.flatnonzero(data.owner == u)]
        for start in range(0, len(rows), BATCH)
    ]
    for name, rows in batches:  # alternating too: each target's index grows alike
        for target in targets:
            server = await server_usec(raw)
            began, cpu = time.perf_counter(), time.process_time()
            await target.ingest(name, rows)
            wall, cpu = time.perf_counter() - began, time.process_time() - cpu
            server = await server_usec(raw) - server
            target.ingest_s += wall
            target.ingest_cpu_s += cpu
            target.ingest_client_us.append((wall * 1e6 - server) / len(rows))
    # Each storage type runs on a server of its own. An index created on a server that
    # already holds keys (the hash run's, in the JSON run) scans them all in the
    # background, and indexes again each key of its own written while the scan runs:
    # the last index created (the service's) then held up to 9,000 such entries for
    # 10,500 records, and its KNN stayed about 0.3 ms slower than its twin's (1.8-2.3x
    # the floor), a forced GC (``FT.DEBUG GC_FORCEINVOKE``) notwithstanding.
    await indexes_built(raw)
    block = 25
    for turn in range(max(1, adds // block)):
        for target in rotated(targets, turn):
            server = await server_usec(raw)
            cpu = time.process_time()
            wall = 0.0
            for _ in range(block):
                began = time.perf_counter()
                await target.add()
                wall += time.perf_counter() - began
                target.add_ms.append((time.perf_counter() - began) * 1000)
            target.add_cpu_s += time.process_time() - cpu
            server = await server_usec(raw) - server
            target.add_client_us.append((wall * 1e6 - server) / block)
            target.add_server_us.append(server / block)
    for user, query in data.queries[:50]:  # warm-up: connections, learnt plans
        for target in targets:
            await target.knn(data.users[user], query)
    for turn, (user, query) in enumerate(data.queries):
        for target in rotated(targets, turn):
            began = time.perf_counter()
            await target.knn(data.users[user], query)
            target.knn_ms.append((time.perf_counter() - began) * 1000)


def rotated(targets: list[Target], turn: int) -> list[Target]:
    """``targets`` in the order of turn ``turn``: each goes first in turn, so no target
    always follows the same one.
    """
    start = turn % len(targets)
    return targets[start:] + targets[:start]


def table(storage: str, n: int, targets: list[Target]) -> str:
    floor = targets[0]

    def figures(target: Target) -> list[float]:
        adds, knn = np.array(target.add_ms), np.array(target.knn_ms)
        return [
            float(np.percentile(adds, 50)), float(np.median(target.add_client_us)),
            float(np.median(target.add_server_us)), target.add_cpu_s * 1e6 / len(adds),
            float(np.median(target.ingest_client_us)), target.ingest_cpu_s * 1e6 / n,
            float(np.percentile(knn, 50)), float(np.percentile(knn, 99)), n / target.ingest_s,
        ]  # fmt: skip

    names = [
        "single add p50 (ms)", "client time per add (µs)", "server time per add (µs)",
        "client CPU per add (µs)", "client time per ingested record (µs)",
        "client CPU per ingested record (µs)", "filtered KNN p50 (ms)", "filtered KNN p99 (ms)",
        "bulk ingest (records/s)",
    ]  # fmt: skip
    columns = [figures(target) for target in targets]
    head = " | ".join(t.name for t in targets[1:])
    lines = [
        f"{storage}, N = {n:,}",
        "",
        f"| figure | {floor.name} | {head} |",
        "|---|---|" + "---|" * (len(targets) - 1),
    ]
    for row, name in enumerate(names):
        base = columns[0][row]
        cells = [f"{c[row]:,.3f} ({c[row] / base:.2f}x)" for c in columns[1:]]
        lines.append(f"| {name} | {base:,.3f} | {' | '.join(cells)} |")
    return "\n".join(lines)


async def run(url: str, storage: str, n: int, adds: int, queries: int) -> str:
    data = make_data(n, 20, DIM, queries)
    vector = data.vectors[0]
    raw = aioredis.Redis.from_url(url, protocol=2)
    floor = await floor_target(raw, storage, floor_fields(data.records[0], vector), data)
    store = RedisStore(RedisSettings(url=url, key_prefix=f"bare-{storage}", storage_type=storage))
    await store.ensure_schema(memcore.EmbeddingSchema(dimension=DIM, model="memcore-hashing-v1"))
    section = {"url": url, "key_prefix": f"svc-{storage}", "storage_type": storage}
    fronted = {**section, "key_prefix": f"pol-{storage}"}  # an index of its own
    try:
        async with (
            memcore.connect(store="redis", embedder="hashing", redis=fronted) as front,
            memcore.connect(store="redis", embedder="hashing", redis=section) as service,
        ):
            targets = [
                floor,
                store_target(store, vector, data),
                policies_target(front, vector, data),
                service_target(service, vector, data),
            ]
            await measure(targets, data, adds, raw)
    finally:
        await store.aclose()
        await raw.aclose()
    return table(storage, n, targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="records per target")
    parser.add_argument("--adds", type=int, default=500, help="single adds per target")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--storage", choices=["hash", "json", "both"], default="both")
    args = parser.parse_args()
    storages = ["hash", "json"] if args.storage == "both" else [args.storage]
    for storage in storages:
        with EmbeddedRedis() as server:  # a server per storage type: see measure()
            print(asyncio.run(run(server.url, storage, args.n, args.adds, args.queries)), "\n")


if __name__ == "__main__":
    main()
