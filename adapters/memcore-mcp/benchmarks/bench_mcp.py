"""Round trip of one MCP tool call over stdio: the SDK's client to ``memcore mcp``.

Run from the repository root (about 15 seconds):

    python adapters/memcore-mcp/benchmarks/bench_mcp.py

The server is a real ``memcore mcp`` subprocess (in-memory store, hashing embedder)
holding ``--records`` interventions of its user; each call is timed from the client's
``call_tool`` to its result, after a warm-up. Target: p50 under 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

from mcp import Client, StdioServerParameters

WARM_UP = 20


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def timed(calls: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    for n in range(WARM_UP):
        await call(n)
    samples = []
    for n in range(calls):
        started = time.perf_counter()
        await call(n)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def main(calls: int, records: int) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "MEMCORE_STORE": "memory",
        "MEMCORE_EMBEDDER": "hashing",
        "MEMCORE_STATE_DIR": tempfile.mkdtemp(prefix="bench-mcp-"),
        "MEMCORE_LOGGING__LEVEL": "WARNING",
    }
    server = StdioServerParameters(
        command=sys.executable,
        args=["-c", "from memcore.cli import main; main()", "mcp", "--user", "bench"],
        env=env,
    )
    async with Client(server) as client:

        async def record(n: int) -> object:
            arguments = {"text": f"intervention {n}", "task": f"task-{n % 10}",
                         "context": f"situation {n % 37}", "outcome": "task_completed"}  # fmt: skip
            return await client.call_tool("record_intervention", arguments)

        async def search(n: int) -> object:
            arguments = {"situation": f"situation {n % 37}", "k": 5}
            return await client.call_tool("search_interventions", arguments)

        for n in range(records):
            await record(n)
        rows = [
            ("search_interventions (k=5)", await timed(calls, search)),
            ("record_intervention", await timed(calls, record)),
        ]
    print(f"MCP tool call round trip over stdio, {records:,} records, {calls:,} calls each\n")
    print("| tool | p50 (ms) | p90 (ms) | p99 (ms) | mean (ms) |")
    print("|---|---|---|---|---|")
    for name, samples in rows:
        print(
            f"| {name} | {statistics.median(samples):.2f} | {percentile(samples, 0.9):.2f} | "
            f"{percentile(samples, 0.99):.2f} | {statistics.fmean(samples):.2f} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2_000, help="timed calls per tool")
    parser.add_argument("--records", type=int, default=1_000, help="records stored first")
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.records))
