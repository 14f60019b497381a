"""``memcore serve`` under many concurrent clients: errors, throughput and latency tails.

Run from the repository root (about 40 seconds):

    python adapters/memcore-http/benchmarks/bench_serve.py --clients 200 --seconds 30

A real ``memcore serve`` subprocess (uvicorn, in-memory store, hashing embedder, one
API key per client) is loaded by ``--clients`` concurrent clients, each on its own
connection and user, each sending one request after the other: nine searches for one
write. Any status other than 200/201, or a transport error, counts as an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

SEARCH = {"query": "nervous before an interview", "k": 5, "filters": {"outcome": "task_completed"}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def key(client: int) -> str:
    return f"bench-key-of-client-{client:04d}-0123456789"


def start(clients: int, port: int) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ["PATH"],
        "MEMCORE_STORE": "memory",
        "MEMCORE_EMBEDDER": "hashing",
        "MEMCORE_STATE_DIR": tempfile.mkdtemp(prefix="bench-serve-"),
        "MEMCORE_LOGGING__LEVEL": "WARNING",
        "MEMCORE_HTTP__AUTH": "api_key",
        "MEMCORE_HTTP__API_KEYS": json.dumps({key(n): f"user-{n}" for n in range(clients)}),
        "MEMCORE_HTTP__PORT": str(port),
        "MEMCORE_HTTP__ACCESS_LOG": "false",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from memcore.cli import main; main()", "serve"], env=env
    )


async def wait_alive(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if await answers(client, f"{url}/healthz"):
                return
            await asyncio.sleep(0.05)
    raise SystemExit("memcore serve did not start")


async def answers(client: httpx.AsyncClient, url: str) -> bool:
    try:
        await client.get(url)
    except httpx.TransportError:
        return False
    return True


async def one_client(url: str, n: int, until: float, latencies: list[float]) -> int:
    errors = 0
    headers = {"Authorization": f"Bearer {key(n)}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        calls = 0
        while time.perf_counter() < until:
            started = time.perf_counter()
            try:
                if calls % 10 == 0:
                    body = {"intervention_text": f"breathing {calls}", "task": "calm_down",
                            "context": "interview nerves", "outcome": "task_completed"}  # fmt: skip
                    response = await client.post("/v1/interventions", json=body)
                else:
                    response = await client.post("/v1/interventions/search", json=SEARCH)
                errors += response.status_code not in {200, 201}
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)
            calls += 1
    return errors


async def load(url: str, clients: int, seconds: float) -> None:
    await wait_alive(url)
    latencies: list[float] = []
    started = time.perf_counter()
    until = started + seconds
    errors = sum(
        await asyncio.gather(*(one_client(url, n, until, latencies) for n in range(clients)))
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    print(
        f"memcore serve, {clients} concurrent clients for {seconds:.0f} s (9 searches : 1 write)\n"
    )
    print("| server | requests | errors | req/s | p50 (ms) | p99 (ms) | max (ms) |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| memcore serve | {len(latencies):,} | {errors} | {len(latencies) / elapsed:,.0f} | "
        f"{statistics.median(latencies):.1f} | {at(0.99):.1f} | {ordered[-1]:.1f} |"
    )
    if errors:
        raise SystemExit(f"{errors} errors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    port = free_port()
    server = start(args.clients, port)
    try:
        asyncio.run(load(f"http://127.0.0.1:{port}", args.clients, args.seconds))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
