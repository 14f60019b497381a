"""Health check latency: p50/p95 of ``MemoryService.health()``.

Runs on the in-memory store with the hashing embedder, and, when agent-memcore-redis and
agent-memcore-sentence-transformers are installed, on an embedded Redis Stack with the local
model loaded. The service is built by the container, so the retry and metrics layers are
included, as in production.

    python benchmarks/bench_health.py [--rounds 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import platform
import statistics
import time
from typing import Any

from memcore.container import build_service


async def measure(rounds: int, **settings: Any) -> tuple[list[float], dict[str, list[float]], str]:
    """Total latencies of ``rounds`` health() calls, each component's own, the last status."""
    service = await build_service(**settings)
    samples: list[float] = []
    components: dict[str, list[float]] = {}
    try:
        for _ in range(20):  # warm up: connections, model, caches
            await service.health()
        for _ in range(rounds):
            started = time.perf_counter()
            report = await service.health()
            samples.append((time.perf_counter() - started) * 1000)
            for check in report.checks:
                components.setdefault(check.component, []).append(check.latency_ms)
    finally:
        await service.aclose()
    return samples, components, report.status.value


def report(
    name: str, samples: list[float], components: dict[str, list[float]], status: str
) -> None:
    samples = sorted(samples)
    p50, p95 = statistics.median(samples), samples[int(len(samples) * 0.95)]
    parts = ", ".join(f"{c} {statistics.median(v):.3f}" for c, v in components.items())
    print(f"{name:<40} p50 {p50:7.3f} ms   p95 {p95:7.3f} ms   ({status}; p50 by part: {parts})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds
    print(f"python {platform.python_version()}, {os.cpu_count()} cpus, {rounds} rounds")
    report("memory + hashing", *asyncio.run(measure(rounds, store="memory", embedder="hashing")))
    wanted = ("memcore_redis", "memcore_sentence_transformers")
    if not all(importlib.util.find_spec(name) for name in wanted):
        print(
            "redis + local: skipped "
            "(install agent-memcore-redis[server] and agent-memcore-sentence-transformers)"
        )
        return
    from memcore_redis.testing import EmbeddedRedis  # noqa: PLC0415 - optional

    with EmbeddedRedis() as server:
        os.environ["MEMCORE_REDIS_URL"] = server.url
        results = asyncio.run(measure(rounds, store="redis", embedder="local"))
        report("embedded redis + local model (loaded)", *results)


if __name__ == "__main__":
    main()
