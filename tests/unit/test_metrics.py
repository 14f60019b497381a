"""Metrics: per-service registry, port instrumentation, cache and pool read at scrape."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.caching import CachePolicy, LRUEmbeddingCache
from memcore.errors import StoreUnavailableError, ValidationError
from memcore.observability import EXPORTED_METRICS, Metrics, MetricsPolicy, Telemetry
from memcore.observability.samples import CountFamily, LatencyFamily, PerCallMetrics
from memcore.resilience.breaker import BreakerState
from memcore.resilience.outbox import Outbox
from memcore.service import MemoryService


class PooledStore(InMemoryStore):
    def pool_stats(self) -> Mapping[str, int]:
        return {"in_use": 2, "idle": 8}

    def pool_waits(self) -> tuple[int, float]:
        return 3, 0.25


class FailingCountStore(InMemoryStore):
    async def count(self, user_id: str, filters: object) -> int:
        raise StoreUnavailableError("refused", operation="count", backend=self.backend)


def _service(metrics: Metrics, store: InMemoryStore | None = None) -> MemoryService:
    store = store or PooledStore()
    embedder = HashingEmbedder(dimension=16)
    cache = CachePolicy(LRUEmbeddingCache(), model=embedder.model, dimension=16)
    metrics.watch_cache(cache.stats, embedder.backend)
    metrics.watch_pool(store, store.backend)
    policies = [cache, MetricsPolicy(metrics, {"store": "memory", "embedder": "hashing"})]
    return MemoryService(store, embedder, policies=policies, telemetry=Telemetry(metrics=metrics))


def _sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_operations_latencies_cache_and_pool_are_exported() -> None:
    metrics = Metrics()
    async with _service(metrics) as service:
        await service.record_intervention("u", "breathe", task="calm")
        await service.search_interventions("u", "breathe")
        await service.search_interventions("u", "breathe")
        with pytest.raises(ValidationError):
            await service.search_interventions("u", "breathe", k=0)
        await service.health()

    ok = {"operation": "search_interventions", "backend": "memory"}
    assert _sample(metrics, "memcore_operations_total", **ok, status="ok") == 2
    assert _sample(metrics, "memcore_operations_total", **ok, status="invalid") == 1
    assert _sample(metrics, "memcore_operation_duration_seconds_count", **ok) == 3
    store_search = {"operation": "search", "backend": "memory", "status": "ok"}
    assert _sample(metrics, "memcore_store_duration_seconds_count", **store_search) == 2
    assert _sample(metrics, "memcore_embed_duration_seconds_count", backend="hashing", status="ok")
    errors = {**ok, "error_type": "ValidationError"}
    assert _sample(metrics, "memcore_errors_total", **errors) == 1
    # "breathe" as a query is a different text from the record's embedding text: 2 misses
    assert _sample(metrics, "memcore_cache_hits_total", backend="hashing") == 1
    assert _sample(metrics, "memcore_cache_misses_total", backend="hashing") == 2
    assert _sample(metrics, "memcore_pool_connections", backend="memory", state="in_use") == 2
    assert _sample(metrics, "memcore_pool_waits_total", backend="memory") == 3
    assert _sample(metrics, "memcore_pool_wait_seconds_total", backend="memory") == 0.25
    assert _sample(metrics, "memcore_health_status", component="service") == 0


async def test_store_failures_are_counted_by_type() -> None:
    metrics = Metrics()
    async with _service(metrics, FailingCountStore()) as service:
        with pytest.raises(StoreUnavailableError):
            await service.stats("u")
    labels = {"operation": "stats", "backend": "memory"}
    assert _sample(metrics, "memcore_operations_total", **labels, status="error") == 1
    assert _sample(metrics, "memcore_errors_total", **labels, error_type="StoreUnavailableError")
    failed_count = {"operation": "count", "backend": "memory", "status": "error"}
    assert _sample(metrics, "memcore_store_duration_seconds_count", **failed_count)


async def test_every_exported_name_is_declared_and_registries_are_separate() -> None:
    metrics, other = Metrics(), Metrics()
    async with _service(metrics) as service:
        await service.record_intervention("u", "breathe", task="calm")
        with pytest.raises(ValidationError):
            await service.get("u", "")
        await service.health()
    metrics.retry_listener("memory")("store.upsert", StoreUnavailableError("x"), 1, 0.1)
    metrics.breaker_listener("memory")("store", BreakerState.OPEN)
    metrics.watch_outbox(Outbox())("deferred", 1)
    metrics.degraded_read("search")
    metrics.limited("search")
    names = {s.name for family in metrics.registry.collect() for s in family.samples}
    names -= {n for n in names if n.endswith("_created")}
    assert names == EXPORTED_METRICS
    assert not any(s for f in other.registry.collect() for s in f.samples if s.value)


def test_per_call_families_export_what_prometheus_client_would() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    buckets = (0.001, 0.01, 1)
    latency = LatencyFamily("x_seconds", "Latency.", ["operation"], buckets)
    count = CountFamily("x_calls", "Calls.", ["operation"])
    ours.register(PerCallMetrics(latency, count))
    reference = Histogram("x_seconds", "Latency.", ["operation"], buckets=buckets, registry=theirs)
    counter = Counter("x_calls", "Calls.", ["operation"], registry=theirs)
    for operation, value in [("get", 0.001), ("get", 0.0005), ("get", 2.0), ("list", 0.01)]:
        latency.labels(operation).observe(value)  # on a bound, under, over every bound
        reference.labels(operation).observe(value)
        count.labels(operation).inc()
        counter.labels(operation).inc()

    def samples(registry: CollectorRegistry) -> list[tuple[str, str, str, object]]:
        return sorted(
            (
                family.type,
                s.name,
                str(sorted(s.labels.items())),
                None if s.name.endswith("_created") else s.value,
            )
            for family in registry.collect()
            for s in family.samples
        )

    assert samples(ours) == samples(theirs)
