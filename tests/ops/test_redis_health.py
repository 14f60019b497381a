"""With agent-memcore-redis installed: /healthz turns 503 when the Redis server stops.

Needs agent-memcore-redis[server]: the redis tox environment runs it (the core ones leave it out).
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from memcore.container import build_service
from memcore.observability import start_metrics_server
from memcore_redis import testing


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


async def test_health_follows_the_redis_server(monkeypatch: pytest.MonkeyPatch) -> None:
    server = testing.EmbeddedRedis().start()
    try:
        monkeypatch.setenv("MEMCORE_REDIS_URL", server.url)
        service = await build_service(store="redis", embedder="hashing", retry={"max_attempts": 1})
        assert service.telemetry.metrics is not None
        endpoint = start_metrics_server(service, service.telemetry.metrics)
        try:
            status, body = await asyncio.to_thread(_get, f"{endpoint.url}/healthz")
            assert (status, body["status"]) == (200, "healthy")
            server.stop()
            status, body = await asyncio.to_thread(_get, f"{endpoint.url}/healthz")
            assert (status, body["status"]) == (503, "unhealthy")
        finally:
            endpoint.close()
            await service.aclose()
    finally:
        server.stop()
