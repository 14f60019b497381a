"""Deep health: per-component checks, schema match, cache, start-up check, HTTP probes."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.caching import CachePolicy, LRUEmbeddingCache
from memcore.domain import HealthCheck, HealthStatus
from memcore.errors import UnhealthyError
from memcore.observability import span, start_metrics_server, tracing
from memcore.service import MemoryService


class StoreWithSchemaFacts(InMemoryStore):
    """Reports the schema of its index, as a real backend does."""

    def __init__(self, dimension: int) -> None:
        super().__init__()
        self.dimension = dimension

    async def health(self) -> HealthCheck:
        check = await super().health()
        facts = {**check.facts, "dimension": self.dimension}
        return HealthCheck(check.component, check.status, check.latency_ms, check.detail, facts)


class RaisingStore(InMemoryStore):
    async def health(self) -> HealthCheck:
        raise RuntimeError("boom")


def _by_component(service_report: object) -> dict[str, HealthCheck]:
    return {check.component: check for check in service_report.checks}  # type: ignore[attr-defined]


async def test_a_started_service_is_healthy_with_each_component_timed() -> None:
    async with MemoryService(InMemoryStore(), HashingEmbedder(16)) as service:
        report = await service.health()
    assert report.status is HealthStatus.HEALTHY
    checks = _by_component(report)
    assert set(checks) == {"store", "embedder", "schema"}
    assert all(check.latency_ms >= 0 for check in checks.values())


async def test_not_started_is_degraded() -> None:
    service = MemoryService(InMemoryStore(), HashingEmbedder(16))
    report = await service.health()
    assert report.status is HealthStatus.DEGRADED
    await service.aclose()


async def test_embedder_dimension_must_match_the_store_index() -> None:
    async with MemoryService(StoreWithSchemaFacts(dimension=384), HashingEmbedder(16)) as service:
        report = await service.health()
    schema = _by_component(report)["schema"]
    assert report.status is HealthStatus.UNHEALTHY
    assert schema.status is HealthStatus.UNHEALTHY
    assert "dimension 384" in schema.detail


class SelfCheckingStore(InMemoryStore):
    """Compares the schema itself and reports only whether it matches (as Redis does)."""

    async def health(self) -> HealthCheck:
        check = await super().health()
        facts = {**check.facts, "schema_matches": False}
        return HealthCheck(check.component, check.status, check.latency_ms, check.detail, facts)


async def test_a_store_reporting_a_schema_mismatch_makes_the_schema_unhealthy() -> None:
    async with MemoryService(SelfCheckingStore(), HashingEmbedder(16)) as service:
        report = await service.health()
    assert _by_component(report)["schema"].status is HealthStatus.UNHEALTHY


def test_spans_are_no_ops_without_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> object:
        raise ImportError(name)

    monkeypatch.setattr(tracing, "import_module", missing)  # as if it were not installed
    monkeypatch.setattr(tracing, "tracer", tracing._Lookup())
    tracing._trace.cache_clear()
    try:
        with span("memcore.test", {"memcore.backend": "memory"}) as current:
            assert current is None
    finally:
        tracing._trace.cache_clear()


async def test_a_raising_health_check_is_reported_not_raised() -> None:
    async with MemoryService(RaisingStore(), HashingEmbedder(16)) as service:
        report = await service.health()
    store = _by_component(report)["store"]
    assert store.status is HealthStatus.UNHEALTHY
    assert "RuntimeError" in store.detail


async def test_cache_counters_appear_when_the_embedder_has_a_cache() -> None:
    embedder = HashingEmbedder(16)
    cache = CachePolicy(LRUEmbeddingCache(), model=embedder.model, dimension=16)
    async with MemoryService(InMemoryStore(), embedder, policies=[cache]) as service:
        await service.search_interventions("u", "q")
        await service.search_interventions("u", "q")
        facts = _by_component(await service.health())["embedder"].facts
    assert (facts["cache_hits"], facts["cache_misses"], facts["cache_shared"]) == (1, 1, 0)


async def test_check_on_start_fail_raises_and_warn_logs(logs: object) -> None:
    failing = MemoryService(StoreWithSchemaFacts(99), HashingEmbedder(16), check_on_start="fail")
    with pytest.raises(UnhealthyError) as raised:
        await failing.start()
    assert raised.value.components == ("schema",)
    await failing.aclose()

    warning = MemoryService(StoreWithSchemaFacts(99), HashingEmbedder(16), check_on_start="warn")
    async with warning:
        pass
    [record] = logs.records(message="unhealthy at start: schema")  # type: ignore[attr-defined]
    assert record["level"] == "warning"
    assert record["health"]["status"] == "unhealthy"


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


async def test_endpoint_serves_metrics_and_health_that_follows_the_store(
    observed_service: MemoryService,
) -> None:
    metrics = observed_service.telemetry.metrics
    assert metrics is not None
    await observed_service.record_intervention("u", "breathe", task="calm")
    server = start_metrics_server(observed_service, metrics)
    try:
        status, body = await asyncio.to_thread(_get, f"{server.url}/metrics")
        assert status == 200
        text = body.decode()
        labels = 'backend="memory",operation="record_intervention",status="ok"'
        assert f"memcore_operations_total{{{labels}}} 1.0" in text
        assert 'memcore_health_status{component="service"} 0.0' in text

        status, body = await asyncio.to_thread(_get, f"{server.url}/healthz")
        assert (status, json.loads(body)["status"]) == (200, "healthy")
        assert (await asyncio.to_thread(_get, f"{server.url}/readyz"))[0] == 200

        observed_service.store.inner.down = True  # type: ignore[attr-defined] - the server stops
        status, body = await asyncio.to_thread(_get, f"{server.url}/healthz")
        assert (status, json.loads(body)["status"]) == (503, "unhealthy")
        assert (await asyncio.to_thread(_get, f"{server.url}/readyz"))[0] == 503
        _, body = await asyncio.to_thread(_get, f"{server.url}/metrics")
        assert 'memcore_health_status{component="service"} 2.0' in body.decode()
        assert (await asyncio.to_thread(_get, f"{server.url}/nope"))[0] == 404
    finally:
        server.close()
        server.close()
