"""The client side of one Redis round trip: memcore's pool against redis-py's, and the
record's JSON document, orjson against the standard library.

    python adapters/memcore-redis/benchmarks/bench_round_trip.py [--rounds 8]

Starts an embedded server and sends memcore's write shape (``HSET`` then a read, in one
``commands.round_trip``) in tight loops, alternating pools round by round, and prints the
median microseconds per round trip of each. Then times encoding and decoding one record's
document of the JSON layout (vector aside).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import timeit
from datetime import datetime, timezone

import orjson
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis

from memcore.domain import Intervention, Outcome
from memcore_redis.client import QueueingConnectionPool
from memcore_redis.commands import round_trip
from memcore_redis.documents import json_document
from memcore_redis.testing import EmbeddedRedis

CALLS = 20_000
COMMANDS = [("HSET", "k", "u", "user-42", "d", "x" * 200), ("GET", "missing")]


async def pools(url: str, rounds: int) -> dict[str, float]:
    clients = {
        "memcore QueueingConnectionPool": Redis(
            connection_pool=QueueingConnectionPool.from_url(url, protocol=2, max_connections=8)
        ),
        "redis-py ConnectionPool": Redis(
            connection_pool=ConnectionPool.from_url(url, protocol=2, max_connections=8)
        ),
        "redis-py BlockingConnectionPool": Redis(
            connection_pool=BlockingConnectionPool.from_url(url, protocol=2, max_connections=8)
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(rounds):
        for name, client in clients.items():
            for _ in range(500):
                await round_trip(client, COMMANDS)
            start = time.perf_counter()
            for _ in range(CALLS):
                await round_trip(client, COMMANDS)
            times[name].append((time.perf_counter() - start) / CALLS * 1e6)
    for client in clients.values():
        await client.aclose()
    return {name: statistics.median(values) for name, values in times.items()}


def documents() -> dict[str, float]:
    record = Intervention(
        id="r1",
        user_id="user-42",
        intervention_text="Suggested a short breathing routine after the check-in",
        task="breathing",
        context="evening session, user reported low energy",
        outcome=Outcome.TASK_COMPLETED,
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        metadata={"lang": "en", "channel": "voice"},
    )
    doc = json_document(record)
    text = orjson.dumps(doc)
    stdlib = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    assert stdlib.encode(doc).encode() == text  # the same bytes either way
    number = 100_000
    cases = {
        "encode, json (stdlib)": lambda: stdlib.encode(doc),
        "encode, orjson": lambda: orjson.dumps(doc),
        "decode, json (stdlib)": lambda: json.loads(text),
        "decode, orjson": lambda: orjson.loads(text),
    }
    return {name: timeit.timeit(call, number=number) / number * 1e6 for name, call in cases.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    with EmbeddedRedis() as server:
        trips = asyncio.run(pools(server.url, args.rounds))
    print("| round trip (HSET + GET), tight loop | µs, median of rounds |\n|---|---|")
    for name, micros in trips.items():
        print(f"| {name} | {micros:.1f} |")
    print("\n| one record document | µs |\n|---|---|")
    for name, micros in documents().items():
        print(f"| {name} | {micros:.2f} |")


if __name__ == "__main__":
    main()
