"""Every metric the shipped dashboard and alert rules use is emitted by ``memcore serve``
built from settings (Redis store, embedding cache, breaker, outbox, rate limit), as a
Prometheus scrape of its /metrics sees it.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import Server, api_key_settings, free_port, key_of, start_server
from memcore_redis.testing import EmbeddedRedis
from test_routes import BREATHING, record

ROOT = Path(__file__).resolve().parents[3]
OPS_FILES = (
    ROOT / "ops" / "prometheus" / "alerts.yml",
    ROOT / "ops" / "grafana" / "memcore-dashboard.json",
)
METRIC = re.compile(r"\bmemcore_[a-z_]+\b")


def used_by_ops() -> set[str]:
    """The sample names the alert rules and the dashboard query."""
    return {name for path in OPS_FILES for name in METRIC.findall(path.read_text())}


def scraped(server: Server) -> dict[str, float]:
    """One scrape of ``server``'s /metrics: each sample name and its values added up."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def _exercise(server: Server, redis: EmbeddedRedis) -> None:
    """What a day in production does: writes, repeated searches, bad input, a burst from
    one user, then the store going away under reads and writes.
    """
    assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
    with server.client(key_of("ops")) as ops, server.client(key_of("eager")) as eager:
        record(ops)
        for _ in range(2):  # the second embeds from the cache
            assert ops.post("/v1/interventions/search", json={"query": "calm"}).status_code == 200
        assert ops.post("/v1/interventions", json={**BREATHING, "task": " "}).status_code == 422
        assert 429 in {eager.get("/v1/stats").status_code for _ in range(12)}
        redis.stop()
        assert ops.post("/v1/interventions", json=BREATHING).status_code == 202
        found = ops.post("/v1/interventions/search", json={"query": "breathing"})
        assert found.json()["status"] == "degraded"
    assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 503


@pytest.mark.parametrize("cache", ["memory", "redis"])
def test_every_metric_ops_uses_is_scraped_from_a_service_built_from_settings(
    tmp_path: Path, cache: str
) -> None:
    """Both embedding caches a setting builds (in-process, Redis) export their counts."""
    with EmbeddedRedis(port=free_port()) as redis:
        server = start_server(
            tmp_path,
            MEMCORE_STORE="redis",
            MEMCORE_REDIS_URL=redis.url,
            MEMCORE_CACHE__BACKEND=cache,
            MEMCORE_RETRY__MAX_ATTEMPTS="2",
            MEMCORE_RETRY__BASE_DELAY="0.01",
            MEMCORE_BREAKER__MIN_CALLS="2",
            MEMCORE_RATE_LIMIT__PER_USER="0.5",
            MEMCORE_RATE_LIMIT__PER_USER_BURST="8",
            MEMCORE_DEGRADATION__REPLAY_INTERVAL="3600",
            **api_key_settings(["ops", "eager"]),
        )
        try:
            _exercise(server, redis)
            names = scraped(server)
        finally:
            server.stop()
    assert len(used_by_ops()) >= 10
    assert used_by_ops() - set(names) == set()
    assert names["memcore_cache_hits_total"] >= 1  # the repeated search was served by the cache
