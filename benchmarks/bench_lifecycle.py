"""Lifecycle calls on Redis against their floors, in one run on one embedded server.

    python benchmarks/bench_lifecycle.py --n 100000 --users 10

Loads ``--n`` interventions of the benchmark workload into memcore's Redis HASH store,
then alternates, call by call in a seeded random order:

- ``update_outcome`` through the service (validation, pipeline, the Lua script, the
  record decoded) and the store's ``update`` alone, against their floor, one raw
  ``HSET key outcome <value>`` of an indexed record with redis-py, and the same ``HSET``
  sent as the update is (memcore's lean :func:`~memcore_redis.commands.round_trip`);
  the embedder must not be called (the script asserts it);
- ``what_worked`` (``candidates`` nearest re-ranked, k 5) against a plain
  ``search_interventions`` (k 5) of the same situation text, both embedding it with
  the same hashing embedder;
- ``search_interventions`` of the users whose records all carry an ``expires_at`` (a
  month away: every even-numbered user) against those of the users without.

Prints p50 and mean of each and the ratios (targets: update_outcome <= 1.2x the HSET,
what_worked <= 1.3x the search, a search with TTLs set within noise of one without).
With ``--server-time``, also the server's own p50 time of the update script, of the
``HSET`` and of the ``FT.SEARCH`` of each ``k`` (``what_worked``'s KNN of ``candidates``,
the search's of 5) while the update and the what-worked groups run: every command goes
to the ``SLOWLOG`` meanwhile, which slows each a little (not how the targets are measured).
With ``--split``, a last group splits ``what_worked``'s extra time over its search, each
pair of the same situations interleaved: the raw ``FT.SEARCH`` the store sends (k 5 and k
``candidates``: the server and the reply), ``RedisStore.search`` at both (the records
decoded too) and the two service calls (validation, ranking and the rest).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import numpy as np
from redis.asyncio import Redis

from memcore import Intervention, MemoryService, Outcome
from memcore.adapters.hashing import HashingEmbedder
from memcore.domain import RecordKind, RecordUpdate, SearchFilter, utcnow
from memcore.ports import UnitVectors, Vectors
from memcore.settings import WhatWorkedSettings
from memcore_bench.workload import Workload, make_workload
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.commands import call, round_trip
from memcore_redis.encoding import record_key
from memcore_redis.query import filter_query, knn_command
from memcore_redis.testing import EmbeddedRedis

OUTCOMES = [Outcome.TASK_COMPLETED, Outcome.USER_ENGAGED, Outcome.NO_RESPONSE]


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, counting its calls."""

    def __init__(self, dimension: int) -> None:
        super().__init__(dimension=dimension)
        self.calls = 0

    async def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        return await super().embed(texts)


Call = Callable[[int], Awaitable[object]]


async def timed(calls: dict[str, Call], rounds: int) -> dict[str, list[float]]:
    """Milliseconds per call, the calls alternated in a fresh seeded order each round."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    order = random.Random(1)
    for i in range(rounds):
        for name in order.sample(list(calls), len(calls)):
            began = time.perf_counter()
            await calls[name](i)
            times[name].append((time.perf_counter() - began) * 1000)
    return times


async def load(store: RedisStore, workload: Workload) -> set[str]:
    """Store ``workload``'s interventions; every even-numbered user's expire in a month.
    Returns those users.
    """
    month = utcnow() + timedelta(days=30)
    expiring = set(workload.users[::2])
    for user, rows in workload.batches(500):
        batch = workload.interventions[rows]
        if user in expiring:
            batch = [dataclasses.replace(r, expires_at=month) for r in batch]
        await store.upsert(user, batch, UnitVectors(workload.vectors[rows]))
    return expiring


def update_calls(
    memory: MemoryService, store: RedisStore, records: Sequence[Intervention]
) -> dict[str, Call]:
    """``update_outcome``, the store's update and the HSET floor, on ``records[i]``."""

    async def update_outcome(i: int) -> object:
        record = records[i]
        return await memory.update_outcome(record.user_id, record.id, OUTCOMES[i % 3])

    async def store_update(i: int) -> object:
        record = records[i]
        update = RecordUpdate(
            record.id, RecordKind.INTERVENTION, {"outcome": OUTCOMES[i % 3]}, utcnow(), 100
        )
        return await store.update(record.user_id, update, None)

    def hset(i: int) -> tuple[str, str, str, str]:
        key = record_key("bench", records[i].user_id, records[i].id)
        return ("HSET", key, "outcome", OUTCOMES[i % 3].value)

    async def floor(i: int) -> object:
        return await call(store._client, *hset(i))  # noqa: SLF001

    async def lean_floor(i: int) -> object:
        return await round_trip(store._client, [hset(i)])  # noqa: SLF001

    return {
        "update_outcome": update_outcome,
        "RedisStore.update": store_update,
        "HSET floor": floor,
        "HSET, lean send": lean_floor,
    }


def situations_of(workload: Workload) -> list[str]:
    """The situation text of each of ``workload``'s queries."""
    return [f"{q.user} feels stuck before {q.user[-2:]} o'clock" for q in workload.queries]


def read_calls(
    memory: MemoryService, workload: Workload, expiring: set[str]
) -> tuple[dict[str, Call], dict[str, Call]]:
    """``what_worked`` and its search; searches of users with TTLs and of those without."""
    queries = workload.queries
    situations = situations_of(workload)
    with_ttl = [q for q in queries if q.user in expiring]
    without = [q for q in queries if q.user not in expiring]

    async def what_worked(i: int) -> object:
        return await memory.what_worked(
            queries[i % len(queries)].user, situations[i % len(queries)]
        )

    async def search(i: int) -> object:
        query = queries[i % len(queries)]
        return await memory.search_interventions(query.user, situations[i % len(queries)])

    async def search_ttl(i: int) -> object:
        query = with_ttl[i % len(with_ttl)]
        return await memory.search_interventions(query.user, query.vector)

    async def search_no_ttl(i: int) -> object:
        query = without[i % len(without)]
        return await memory.search_interventions(query.user, query.vector)

    ranked: dict[str, Call] = {"what_worked": what_worked, "search_interventions": search}
    return ranked, {"search, TTLs set": search_ttl, "search, no TTLs": search_no_ttl}


async def split_calls(
    memory: MemoryService, store: RedisStore, workload: Workload, candidates: int
) -> dict[str, Call]:
    """The search and ``what_worked`` of :func:`read_calls`' situations, and beneath them
    the store's search and its raw ``FT.SEARCH`` (memcore's own command) at k 5 and at
    ``candidates``, on the situations' embeddings.
    """
    queries = workload.queries
    embedded = await HashingEmbedder(workload.dimension).embed(situations_of(workload))
    vectors = [UnitVectors(np.asarray(vector, np.float32)) for vector in embedded]
    interventions = SearchFilter().with_kind(RecordKind.INTERVENTION)
    layout = store._layout  # noqa: SLF001 - the command the store sends
    returned = layout.returned(interventions.tags.get("kind"))

    def raw(k: int) -> Call:
        async def send(i: int) -> object:
            j = i % len(queries)
            prefilter = filter_query(queries[j].user, interventions)
            policy = store._planner.choose(prefilter)  # noqa: SLF001
            command = knn_command(
                store.index_name, prefilter, policy, vectors[j], k,
                returned=returned, dialect=layout.dialect,
            )  # fmt: skip
            return await round_trip(store._client, [command])  # noqa: SLF001

        return send

    def bare(k: int) -> Call:
        async def search(i: int) -> object:
            j = i % len(queries)
            return await store.search(queries[j].user, vectors[j], k, interventions)

        return search

    ranked, _ = read_calls(memory, workload, set())
    return {
        "raw FT.SEARCH, k 5": raw(5),
        f"raw FT.SEARCH, k {candidates}": raw(candidates),
        "RedisStore.search, k 5": bare(5),
        f"RedisStore.search, k {candidates}": bare(candidates),
        **ranked,
    }


def split_rows(p50: dict[str, float], candidates: int) -> str:
    """Where ``what_worked``'s extra time over its search goes, from ``p50`` (ms)."""
    wide = f"k {candidates}"
    server = p50[f"raw FT.SEARCH, {wide}"] - p50["raw FT.SEARCH, k 5"]
    store = p50[f"RedisStore.search, {wide}"] - p50["RedisStore.search, k 5"]
    whole = p50["what_worked"] - p50["search_interventions"]
    budget = 0.3 * p50["search_interventions"]
    return (
        f"\nwhat_worked over search_interventions: {whole:+.3f} ms (the 1.3x target allows "
        f"{budget:+.3f}):\n"
        f"- the server and the reply (raw k {candidates} over k 5): {server:+.3f} ms\n"
        f"- the store's decoding of the wider reply: {store - server:+.3f} ms\n"
        f"- the service's share (ranking, the rest): {whole - store:+.3f} ms"
    )


async def server_times(
    client: Redis, rounds: int, measure: Awaitable[dict[str, list[float]]]
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """``measure``'s result, and the server's own p50 microseconds per command meanwhile
    (an ``FT.SEARCH`` named with its ``k``): every command goes to the ``SLOWLOG``.
    """
    threshold = ("CONFIG", "SET", "slowlog-log-slower-than")
    await call(client, *threshold, 0)
    await call(client, "CONFIG", "SET", "slowlog-max-len", 8 * rounds)
    await call(client, "SLOWLOG", "RESET")
    measured = await measure
    entries = await call(client, "SLOWLOG", "GET", -1)
    await call(client, *threshold, 10_000)
    by_command: dict[str, list[int]] = {}
    for entry in entries:
        args = entry[3]
        name = args[0].decode().upper()
        if name == "FT.SEARCH" and args[5:6] == [b"k"]:  # a KNN: query PARAMS 4 k <k> vec ...
            name = f"FT.SEARCH k {args[6].decode()}"
        by_command.setdefault(name, []).append(int(entry[2]))
    return measured, {name: float(np.median(times)) for name, times in by_command.items()}


async def run(
    n: int, users: int, rounds: int, candidates: int, *, server_time: bool, split: bool
) -> None:
    workload = make_workload(n, users=users, dimension=384, queries=200)
    with EmbeddedRedis() as server:
        store = RedisStore(RedisSettings(url=server.url, key_prefix="bench"))
        embedder = CountingEmbedder(384)
        ranking = WhatWorkedSettings(candidates=candidates)
        async with MemoryService(store, embedder, what_worked=ranking) as memory:
            expiring = await load(store, workload)
            picked = random.Random(2).sample(range(n), rounds)
            updates = update_calls(memory, store, [workload.interventions[i] for i in picked])
            ranked, searches = read_calls(memory, workload, expiring)
            for calls in (updates, ranked, searches):
                for warm in calls.values():
                    for i in range(20):
                        await warm(i)
            embedded = embedder.calls
            own_time: dict[str, float] = {}
            if server_time:
                client = store._client  # noqa: SLF001 - the bench's own server
                writes, own_time = await server_times(client, rounds, timed(updates, rounds))
                assert embedder.calls == embedded, "update_outcome called the embedder"
                reads, knn_time = await server_times(client, rounds, timed(ranked, rounds))
                own_time.update(knn_time)
            else:
                writes = await timed(updates, rounds)
                assert embedder.calls == embedded, "update_outcome called the embedder"
                reads = await timed(ranked, rounds)
            expiry = await timed(searches, rounds)
            parts = {}
            if split:
                parts = await timed(await split_calls(memory, store, workload, candidates), rounds)
    measured = {**writes, **reads, **expiry, **{f"split: {k}": v for k, v in parts.items()}}
    p50 = {name: float(np.median(found)) for name, found in measured.items()}
    print(
        f"N = {n:,} interventions, {users} users, HASH, {rounds} calls each, "
        f"candidates {candidates}\n"
    )
    print("| call | p50 ms | mean ms |\n|---|---|---|")
    for name, found in measured.items():
        print(f"| {name} | {p50[name]:.3f} | {np.mean(found):.3f} |")
    print(
        f"\nupdate_outcome / HSET p50: {p50['update_outcome'] / p50['HSET floor']:.2f}x"
        f" (embedder calls during updates: 0)\n"
        f"RedisStore.update / HSET p50: {p50['RedisStore.update'] / p50['HSET floor']:.2f}x\n"
        f"update_outcome / HSET sent as lean as the update p50: "
        f"{p50['update_outcome'] / p50['HSET, lean send']:.2f}x\n"
        f"what_worked / search_interventions p50: "
        f"{p50['what_worked'] / p50['search_interventions']:.2f}x\n"
        f"search with TTLs / without p50: "
        f"{p50['search, TTLs set'] / p50['search, no TTLs']:.2f}x"
    )
    if own_time:
        wide, plain = own_time[f"FT.SEARCH k {candidates}"], own_time["FT.SEARCH k 5"]
        print(
            f"server time p50 (SLOWLOG): the update script {own_time['EVALSHA']:.0f} us, "
            f"one HSET {own_time['HSET']:.0f} us: {own_time['EVALSHA'] / own_time['HSET']:.2f}x; "
            f"what_worked's KNN (k {candidates}) {wide:.0f} us, the search's (k 5) "
            f"{plain:.0f} us: {wide / plain:.2f}x, {(wide - plain) / 1000:.3f} ms more"
        )
    if parts:
        print(split_rows({name: p50[f"split: {name}"] for name in parts}, candidates))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1_000)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--server-time", action="store_true", help="read the SLOWLOG too")
    parser.add_argument("--split", action="store_true", help="split what_worked's extra time")
    args = parser.parse_args()
    run_ = run(
        args.n, args.users, args.rounds, args.candidates,
        server_time=args.server_time, split=args.split,
    )  # fmt: skip
    asyncio.run(run_)


if __name__ == "__main__":
    main()
