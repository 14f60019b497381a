"""Probes, metrics, rate limits, a store that is down, and a graceful shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import memcore
from conftest import Server, api_key_settings, free_port, key_of, start_server
from memcore_http import HttpSettings, create_app
from memcore_redis.testing import EmbeddedRedis
from test_routes import BREATHING, record


def test_probes_and_metrics(server: Server, alice: httpx.Client) -> None:
    record(alice)
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "alive"}
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert {check["component"] for check in ready.json()["checks"]} >= {"store", "embedder"}
    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'memcore_operations_total{backend="memory",operation="record_intervention"' in (
        metrics.text
    )
    assert 'memcore_health_status{component="service"} 0.0' in metrics.text


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    server = start_server(tmp_path, MEMCORE_HTTP__AUTH="none", MEMCORE_METRICS__ENABLED="false")
    try:
        off = httpx.get(f"{server.url}/metrics")
        assert off.status_code == 404
        assert off.json()["error"] == "not_found"
    finally:
        server.stop()


def test_each_user_has_their_own_rate_limit(tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        MEMCORE_RATE_LIMIT__PER_USER="0.5",
        MEMCORE_RATE_LIMIT__PER_USER_BURST="2",
        **api_key_settings(["ann", "ben"]),
    )
    try:
        with server.client(key_of("ann")) as ann, server.client(key_of("ben")) as ben:
            assert [ann.get("/v1/stats").status_code for _ in range(2)] == [200, 200]
            limited = ann.get("/v1/stats")
            assert limited.status_code == 429
            assert limited.json()["error"] == "rate_limited"
            assert 1 <= int(limited.headers["retry-after"]) <= 2
            assert 0 < limited.json()["retry_after"] <= 2
            assert ben.get("/v1/stats").status_code == 200
    finally:
        server.stop()


def _redis_settings(port: int) -> dict[str, str]:
    return {
        "MEMCORE_HTTP__AUTH": "none",
        "MEMCORE_STORE": "redis",
        "MEMCORE_REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "MEMCORE_RETRY__MAX_ATTEMPTS": "1",
        # Only the shutdown replays the outbox: the test proves that one does.
        "MEMCORE_DEGRADATION__REPLAY_INTERVAL": "3600",
    }


def test_a_write_while_the_store_is_down_is_202_deferred(tmp_path: Path) -> None:
    server = start_server(tmp_path, **_redis_settings(free_port()))  # nothing listens there
    try:
        with server.client() as client:
            written = client.post("/v1/interventions", json=BREATHING)
            assert written.status_code == 202, written.text
            assert written.json()["status"] == "deferred"
            found = client.post("/v1/interventions/search", json={"query": "breathing"})
            assert found.status_code == 200
            assert found.json()["status"] == "degraded"
            assert found.json()["complete"] is False
            assert client.delete("/v1/records/" + "0" * 32).json()["status"] == "deferred"
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["ready"] is False
    finally:
        server.stop()


def test_sigterm_hands_deferred_writes_to_the_store_before_exiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    server = start_server(tmp_path, **_redis_settings(port))
    try:
        with server.client() as client:
            written = client.post("/v1/interventions", json=BREATHING)
        assert written.json()["status"] == "deferred"
        record_id = written.json()["records"][0]["id"]
        with EmbeddedRedis(port=port) as redis:
            server.stop()  # the final replay: the store is back now
            monkeypatch.setenv("MEMCORE_REDIS_URL", redis.url)
            assert asyncio.run(_stored_text(record_id)) == BREATHING["intervention_text"]
    finally:
        if server.process.poll() is None:
            server.stop()


async def _stored_text(record_id: str) -> str:
    async with memcore.connect(store="redis", embedder="hashing") as memory:
        found = await memory.get("dev", record_id)
    assert isinstance(found, memcore.Intervention)
    return found.intervention_text


def _blas_threads() -> int:
    [blas] = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    return int(blas["num_threads"])


async def test_blas_keeps_to_its_threads_while_the_app_serves() -> None:
    app = create_app(HttpSettings(auth="none", blas_threads=1))
    with threadpool_limits(2, user_api="blas"):
        assert _blas_threads() == 2
        async with app.router.lifespan_context(app):
            assert _blas_threads() == 1  # one search does not wait for a second thread
        assert _blas_threads() == 2
