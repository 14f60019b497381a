"""The client's own cost of a single write and a filtered KNN: memcore (through the
service), RedisVL and the redis-py floor, with the server's replies replayed.

    python adapters/memcore-redis/benchmarks/bench_client_path.py [--storage hash] [--calls 300]

Starts the bench targets of ``memcore bench`` (each on its own embedded server), loads a
small workload, and records the replies each target's write and KNN receive. Then the
connections replay those replies instead of asking the server, so what is timed is the
client alone: validation, encoding, the connection pool, parsing, decoding. Each figure
is taken warm (calls back to back) and cold (a 64 MiB read before each call evicts the CPU
caches, as the server's work on the same two cores does in a real run: the client's code
then runs several times slower). Targets and modes alternate call by call; it prints the
median µs per call.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from redis.asyncio.connection import AbstractConnection

from memcore_bench.redis_targets import MemcoreRedisTarget, RedisFloor, RedisVLTarget
from memcore_bench.runner import shuffled
from memcore_bench.workload import make_workload
from memcore_redis import commands

EVICT_BYTES = 64 * 1024 * 1024  # more than the machine's caches


class Replay:
    """Records the replies to each packed command, then serves them without the server.

    A command never recorded (a planner count in the background) still goes to the server.
    """

    def __init__(self) -> None:
        self.replaying = False
        self.tapes: dict[bytes, list[Any]] = {}
        self._send = AbstractConnection.send_packed_command
        self._read = AbstractConnection.read_response
        self._send_packed = commands.send_packed
        self._next_reply = commands.next_reply

    def install(self) -> None:
        replay = self

        async def send(connection: Any, command: Any, *args: Any, **kwargs: Any) -> None:
            key = command if isinstance(command, bytes) else b"".join(command)
            if not replay.replayed(connection, key):
                await replay._send(connection, command, *args, **kwargs)

        async def read(connection: Any, *args: Any, **kwargs: Any) -> Any:
            return await replay.reply(connection, lambda: replay._read(connection, *args, **kwargs))

        # memcore's round trips send and read through memcore_redis.commands instead.
        def send_packed(connection: Any, packed: bytes) -> None:
            if not replay.replayed(connection, packed):
                replay._send_packed(connection, packed)

        async def next_reply(connection: Any) -> Any:
            return await replay.reply(connection, lambda: replay._next_reply(connection))

        AbstractConnection.send_packed_command = send  # type: ignore[method-assign, assignment]
        AbstractConnection.read_response = read  # type: ignore[method-assign, assignment]
        commands.send_packed = send_packed
        commands.next_reply = next_reply

    def replayed(self, connection: Any, key: bytes) -> bool:
        """Queue the recorded replies to ``key`` on ``connection`` if replaying (True), else
        start recording them.
        """
        queue = connection.__dict__.setdefault("replies", collections.deque())
        if self.replaying and key in self.tapes:
            queue.extend(self.tapes[key])
            return True
        connection.recording = None if self.replaying else self.tapes.setdefault(key, [])
        if connection.recording is not None:
            connection.recording.clear()
        return False

    async def reply(self, connection: Any, read: Callable[[], Awaitable[Any]]) -> Any:
        """The next queued reply, else one read from the server (recorded if recording)."""
        queue = connection.__dict__.get("replies")
        if queue:
            return queue.popleft()
        reply = await read()
        if getattr(connection, "recording", None) is not None:
            connection.recording.append(reply)
        return reply

    def uninstall(self) -> None:
        AbstractConnection.send_packed_command = self._send  # type: ignore[method-assign]
        AbstractConnection.read_response = self._read  # type: ignore[method-assign]
        commands.send_packed = self._send_packed
        commands.next_reply = self._next_reply


async def _time(call: Callable[[], Awaitable[object]], evict: np.ndarray[Any, Any] | None) -> float:
    """µs of one call: after evicting the caches (cold) or right after the same call (warm)."""
    if evict is not None:
        evict.sum()
    else:
        await call()
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1e6


Operation = Callable[[Any], Awaitable[object]]


async def _measure(
    targets: list[Any], operations: dict[str, Operation], turns: int
) -> dict[tuple[str, str, bool], list[float]]:
    """µs per call of every operation on every target, warm and cold, interleaved."""
    evict = np.ones(EVICT_BYTES // 8)  # read before each cold call
    times: dict[tuple[str, str, bool], list[float]] = collections.defaultdict(list)
    for turn in range(turns):
        for name, operation in operations.items():
            for cold in (False, True):
                for target in shuffled(targets, turn):
                    spent = await _time(lambda: operation(target), evict if cold else None)  # noqa: B023 - awaited at once
                    times[name, target.name, cold].append(spent)
    return times


async def run(storage: str, calls: int) -> None:
    workload = make_workload(2_000, users=2, queries=10)
    targets: list[Any] = [RedisFloor(storage), MemcoreRedisTarget(storage), RedisVLTarget(storage)]
    record = dataclasses.replace(workload.interventions[0], id="client-path")
    vector, query = workload.vectors[0], workload.queries[0]
    operations: dict[str, Operation] = {
        "single write": lambda target: target.write_one(record, vector),
        "filtered KNN": lambda target: target.knn(query, workload.k),
    }
    replay = Replay()
    replay.install()
    try:
        for target in targets:
            await target.setup(workload)
            for user, rows in workload.batches(500):
                await target.ingest(user, workload.interventions[rows], workload.vectors[rows])
            for operation in operations.values():  # record every reply, warm every path
                for _ in range(3):
                    await operation(target)
                    await asyncio.sleep(0.05)  # memcore's planner count lands: its plan is set
        replay.replaying = True
        times = await _measure(targets, operations, calls)
    finally:
        replay.uninstall()
        for target in targets:
            await target.aclose()
    print(f"client µs per call, replies replayed ({storage}; median of {calls})")
    for name in operations:
        for target in targets:
            warm = statistics.median(times[name, target.name, False])
            cold = statistics.median(times[name, target.name, True])
            print(f"  {name:13s} {target.name:30s} warm {warm:7.1f}   cold {cold:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--storage", choices=("hash", "json"), default="hash")
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(run(args.storage, args.calls))


if __name__ == "__main__":
    main()
