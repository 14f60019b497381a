"""Round trip of one MCP tool call over stdio: the SDK's client to ``memcore mcp``.

Run from the repository root (about a minute):

    python adapters/memcore-mcp/benchmarks/bench_mcp.py

The server is a real ``memcore mcp`` subprocess (in-memory store, hashing embedder)
holding ``--records`` interventions of its user; each call is timed from the client's
``call_tool`` to its result, after a warm-up. The floor is the same SDK client calling
a tool that does nothing on a bare SDK server over stdio (its answer a structured
result of the shape ``record_intervention`` gives), so it is what any MCP tool call
costs on this machine. Floor and tools take turns call by call, so both see the same
load. Target: p50 under 5 ms.
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
from typing import Any

from mcp import Client, StdioServerParameters

WARM_UP = 20

FLOOR_SERVER = """
from typing import Literal
from pydantic import BaseModel
from mcp.server.mcpserver import MCPServer

class Done(BaseModel):
    status: Literal["stored", "deferred"]
    id: str

server = MCPServer("floor")

@server.tool()
def noop(text: str, task: str) -> Done:
    '''Does nothing.'''
    return Done(status="stored", id="0" * 32)

server.run()
"""

Call = Callable[[int], Awaitable[Any]]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def timed(rounds: int, calls: dict[str, Call]) -> dict[str, list[float]]:
    """Each call once per round, in turn; the milliseconds of each."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for n in range(WARM_UP + rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            result = await call(n)
            elapsed = (time.perf_counter() - started) * 1000
            if result.is_error:
                raise RuntimeError(f"{name} failed: {result.content}")
            if n >= WARM_UP:
                samples[name].append(elapsed)
    return samples


def server(*args: str) -> StdioServerParameters:
    env = {
        "PATH": os.environ["PATH"],
        "MEMCORE_STORE": "memory",
        "MEMCORE_EMBEDDER": "hashing",
        "MEMCORE_STATE_DIR": tempfile.mkdtemp(prefix="bench-mcp-"),
        "MEMCORE_LOGGING__LEVEL": "WARNING",
    }
    return StdioServerParameters(command=sys.executable, args=list(args), env=env)


async def main(calls: int, records: int) -> None:
    memcore_mcp = server("-c", "from memcore.cli import main; main()", "mcp", "--user", "bench")
    async with Client(server("-c", FLOOR_SERVER)) as floor, Client(memcore_mcp) as client:

        def intervention(n: int) -> dict[str, str]:
            return {"text": f"intervention {n}", "task": f"task-{n % 10}",
                    "context": f"situation {n % 37}", "outcome": "task_completed"}  # fmt: skip

        ids = []
        for n in range(records):
            written = await client.call_tool("record_intervention", intervention(n))
            ids.append((written.structured_content or {})["id"])
        outcomes = ("task_completed", "user_resisted")
        samples = await timed(
            calls,
            {
                "floor: a no-op tool on a bare SDK server": lambda n: floor.call_tool(
                    "noop", {"text": f"intervention {n}", "task": "t"}
                ),
                "search_interventions (k=5)": lambda n: client.call_tool(
                    "search_interventions", {"situation": f"situation {n % 37}", "k": 5}
                ),
                "what_worked (k=5)": lambda n: client.call_tool(
                    "what_worked", {"situation": f"situation {n % 37}", "k": 5}
                ),
                "record_intervention": lambda n: client.call_tool(
                    "record_intervention", intervention(records + n)
                ),
                "update_outcome": lambda n: client.call_tool(
                    "update_outcome", {"record_id": ids[n % records], "outcome": outcomes[n % 2]}
                ),
            },
        )
    floor_p50 = statistics.median(next(iter(samples.values())))
    load = os.getloadavg()[0]  # other jobs on this machine's cores
    print(f"MCP tool call round trip over stdio, {records:,} records, {calls:,} calls each")
    print(f"(load average {load:.1f} on {os.cpu_count()} cores at the end)\n")
    print("| tool | p50 (ms) | p50 / floor | p90 (ms) | p99 (ms) | mean (ms) |")
    print("|---|---|---|---|---|---|")
    for name, taken in samples.items():
        p50 = statistics.median(taken)
        print(
            f"| {name} | {p50:.2f} | {p50 / floor_p50:.2f}x | {percentile(taken, 0.9):.2f} | "
            f"{percentile(taken, 0.99):.2f} | {statistics.fmean(taken):.2f} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2_000, help="timed calls per tool")
    parser.add_argument("--records", type=int, default=1_000, help="records stored first")
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.records))
