"""What a read pays for knowing whether the index is whole (memcore_redis.building).

    python adapters/memcore-redis/benchmarks/bench_build_probe.py [--calls 5000]

Starts an embedded server, writes 1,000 records of one user and, once the store has
seen its index whole, times the count command alone (the floor) and with the probe every
read carries in front of it (a ``GET`` of the index generation, same round trip),
interleaved call by call so both see the same noise. Prints the median and p90 in
microseconds and the ratio to the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Sequence
from typing import Any

from memcore.domain import SearchFilter
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.commands import round_trip
from memcore_redis.query import count_command, filter_query
from memcore_redis.testing import EmbeddedRedis

RECORDS = 1_000


async def measure(url: str, calls: int) -> dict[str, list[float]]:
    store = RedisStore(RedisSettings(url=url, key_prefix="probe"))
    await store.ensure_schema(SCHEMA)
    records = [intervention("u", n) for n in range(RECORDS)]
    await store.upsert("u", records, unit_vectors(RECORDS, seed=1))
    assert (await store.count("u", SearchFilter())).complete  # the index is seen whole
    count = count_command(store.index_name, filter_query("u", SearchFilter()))
    runs: dict[str, tuple[Sequence[Sequence[Any]], list[float]]] = {
        "count (floor)": ([count], []),
        "count + build probe": ([*store._build.probe(), count], []),  # noqa: SLF001
    }
    client = store._client  # noqa: SLF001 - the store's own pool, as its reads use it
    for _ in range(calls):
        for commands, times in runs.values():
            started = time.perf_counter()
            await round_trip(client, commands)
            times.append((time.perf_counter() - started) * 1e6)
    await store.aclose()
    return {name: times for name, (_, times) in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5_000)
    args = parser.parse_args()
    with EmbeddedRedis() as server:
        results = asyncio.run(measure(server.url, args.calls))
    floor = statistics.median(results["count (floor)"])
    print(f"{args.calls} calls each, interleaved, {RECORDS} records of one user")
    print("| read | median µs | p90 µs | x floor |")
    print("|---|---|---|---|")
    for name, times in results.items():
        median = statistics.median(times)
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"| {name} | {median:.1f} | {p90:.1f} | {median / floor:.2f} |")


if __name__ == "__main__":
    main()
