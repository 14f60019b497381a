"""``memcore serve`` under many concurrent clients: errors, throughput and latency tails.

Run from the repository root (about 80 seconds):

    python adapters/memcore-http/benchmarks/bench_serve.py --clients 200 --seconds 30

A real ``memcore serve`` subprocess (uvicorn, in-memory store, hashing embedder, one
API key per client) is loaded by ``--clients`` concurrent clients, each on its own
connection and user, each sending one request after the other: nine searches for one
write. Any status other than 200/201, or a transport error, counts as an error. The
floor, loaded the same way first, is a bare FastAPI app under uvicorn answering the
same routes with constant bodies: what the HTTP stack and the load generator cost here.
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


FLOOR_SERVER = """
import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.post("/v1/interventions", status_code=201)
async def write(body: dict) -> dict:
    return {"status": "stored", "records": []}


@app.post("/v1/interventions/search")
async def search(body: dict) -> dict:
    return {"status": "complete", "complete": True, "hits": []}


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "alive"}


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def start_floor(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", FLOOR_SERVER, str(port)])  # noqa: S603 - ours


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


async def load(url: str, clients: int, seconds: float) -> tuple[int, int, float, list[float]]:
    """Requests, errors, seconds and the sorted latencies of one load run."""
    await wait_alive(url)
    latencies: list[float] = []
    started = time.perf_counter()
    until = started + seconds
    errors = sum(
        await asyncio.gather(*(one_client(url, n, until, latencies) for n in range(clients)))
    )
    return len(latencies), errors, time.perf_counter() - started, sorted(latencies)


def run(
    server: subprocess.Popen[bytes], port: int, clients: int, seconds: float
) -> tuple[int, int, float, list[float]]:
    try:
        return asyncio.run(load(f"http://127.0.0.1:{port}", clients, seconds))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    port = free_port()
    floor = run(start_floor(port), port, args.clients, args.seconds)
    port = free_port()
    served = run(start(args.clients, port), port, args.clients, args.seconds)
    print(
        f"memcore serve, {args.clients} concurrent clients for {args.seconds:.0f} s "
        f"(9 searches : 1 write)"
    )
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end)\n")
    print("| server | requests | errors | req/s | p50 (ms) | p99 (ms) | p99 / floor | max (ms) |")
    print("|---|---|---|---|---|---|---|---|")
    floor_p99 = percentile(floor[3], 0.99)
    for name, (requests, errors, elapsed, ordered) in [
        ("floor: bare FastAPI, constant bodies", floor),
        ("memcore serve", served),
    ]:
        p99 = percentile(ordered, 0.99)
        print(
            f"| {name} | {requests:,} | {errors} | {requests / elapsed:,.0f} | "
            f"{statistics.median(ordered):.1f} | {p99:.1f} | {p99 / floor_p99:.2f}x | "
            f"{ordered[-1]:.1f} |"
        )
    if served[1]:
        raise SystemExit(f"{served[1]} errors")


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


if __name__ == "__main__":
    main()
