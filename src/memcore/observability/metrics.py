"""Prometheus metrics, each :class:`Metrics` on its own ``CollectorRegistry``.

A dedicated registry (not prometheus_client's global one) per container keeps services
and tests independent and lets two services in one process export separately. Serve it
with :func:`memcore.observability.start_metrics_server` or mount
``prometheus_client.make_asgi_app(metrics.registry)`` in your web app.

The counts and latencies recorded on every call (operations, store and embedder calls)
are plain counts exported when scraped (:mod:`memcore.observability.samples`). Cache
hits/misses and pool usage are read when scraped, from what the container asked
to watch (:meth:`Metrics.watch_cache`, :meth:`Metrics.watch_pool`), so the hot path pays
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Protocol, runtime_checkable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from memcore.domain import HealthReport, HealthStatus
from memcore.observability.samples import CountFamily, LatencyFamily, PerCallMetrics
from memcore.resilience.breaker import BreakerState
from memcore.resilience.outbox import Outbox

__all__ = [
    "EXPORTED_METRICS",
    "CacheCounts",
    "Metrics",
    "PoolStatsSource",
    "PoolWaitSource",
]

# Seconds: sub-millisecond in-memory calls up to multi-second remote embeddings.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
HEALTH_VALUES = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.UNHEALTHY: 2}

_HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
EXPORTED_METRICS = frozenset(
    {
        "memcore_operations_total",
        "memcore_errors_total",
        "memcore_retries_total",
        "memcore_cache_hits_total",
        "memcore_cache_misses_total",
        "memcore_health_status",
        "memcore_store_expired_records",
        "memcore_pool_connections",
        "memcore_pool_waits_total",
        "memcore_pool_wait_seconds_total",
        "memcore_breaker_state",
        "memcore_outbox_records_total",
        "memcore_outbox_waiting_records",
        "memcore_degraded_reads_total",
        "memcore_rate_limited_total",
    }
    | {
        f"{name}{suffix}"
        for name in (
            "memcore_operation_duration_seconds",
            "memcore_store_duration_seconds",
            "memcore_embed_duration_seconds",
        )
        for suffix in _HISTOGRAM_SUFFIXES
    }
)
"""Every sample name the library exports (dashboards and alerts may use only these)."""


class CacheCounts(Protocol):
    """Running counts of an embedding cache (:class:`memcore.caching.CacheStats`)."""

    hits: int
    misses: int


@runtime_checkable
class PoolStatsSource(Protocol):
    """A store that reports its connection pool, e.g. ``{"in_use": 2, "idle": 8, "max": 10}``."""

    def pool_stats(self) -> Mapping[str, int]:
        """Current connection counts by state; cheap and non-blocking."""
        ...


@runtime_checkable
class PoolWaitSource(Protocol):
    """A store whose callers may wait for a free pooled connection."""

    def pool_waits(self) -> tuple[int, float]:
        """How many calls had to wait for a connection so far, and for how many seconds."""
        ...


class _ScrapeTimeCollector(Collector):
    """Reads cache and pool counts from the watched components at scrape time."""

    def __init__(self) -> None:
        self.caches: dict[str, CacheCounts] = {}
        self.pools: dict[str, PoolStatsSource] = {}

    def describe(self) -> list[Metric]:
        return []  # families depend on what is watched; no up-front description

    def collect(self) -> Iterator[Metric]:
        if self.caches:
            hits = CounterMetricFamily(
                "memcore_cache_hits", "Embedding cache hits (texts).", labels=["backend"]
            )
            misses = CounterMetricFamily(
                "memcore_cache_misses", "Embedding cache misses (texts).", labels=["backend"]
            )
            for backend, counts in self.caches.items():
                hits.add_metric([backend], counts.hits)
                misses.add_metric([backend], counts.misses)
            yield hits
            yield misses
        if self.pools:
            pool = GaugeMetricFamily(
                "memcore_pool_connections",
                "Store connection pool, by state.",
                labels=["backend", "state"],
            )
            for backend, store in self.pools.items():
                for state, count in store.pool_stats().items():
                    pool.add_metric([backend, state], count)
            yield pool
        waiting = {b: store for b, store in self.pools.items() if isinstance(store, PoolWaitSource)}
        if waiting:
            waits = CounterMetricFamily(
                "memcore_pool_waits",
                "Store calls that waited for a free pooled connection.",
                labels=["backend"],
            )
            seconds = CounterMetricFamily(
                "memcore_pool_wait_seconds",
                "Time store calls spent waiting for a free pooled connection.",
                labels=["backend"],
            )
            for backend, store in waiting.items():
                count, waited = store.pool_waits()
                waits.add_metric([backend], count)
                seconds.add_metric([backend], waited)
            yield waits
            yield seconds


class Metrics:
    """The memcore metrics on one registry (a fresh one unless ``registry`` is given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        reg = self.registry
        self.operations = CountFamily(
            "memcore_operations",
            "Service operations by outcome (ok, invalid: rejected input, error).",
            ["operation", "backend", "status"],
        )
        self.operation_seconds = LatencyFamily(
            "memcore_operation_duration_seconds",
            "Service operation latency.",
            ["operation", "backend"],
            LATENCY_BUCKETS,
        )
        self.store_seconds = LatencyFamily(
            "memcore_store_duration_seconds",
            "Store call latency (search, upsert...).",
            ["operation", "backend", "status"],
            LATENCY_BUCKETS,
        )
        self.embed_seconds = LatencyFamily(
            "memcore_embed_duration_seconds",
            "Embedder call latency.",
            ["backend", "status"],
            LATENCY_BUCKETS,
        )
        reg.register(
            PerCallMetrics(
                self.operations, self.operation_seconds, self.store_seconds, self.embed_seconds
            )
        )
        self.errors = Counter(
            "memcore_errors",
            "Failed service operations by error type.",
            ["operation", "backend", "error_type"],
            registry=reg,
        )
        self.retries = Counter(
            "memcore_retries",
            "Retries of store and embedder calls after a retryable error.",
            ["component", "operation", "backend", "error_type"],
            registry=reg,
        )
        self.health = Gauge(
            "memcore_health_status",
            "Last health check: 0 healthy, 1 degraded, 2 unhealthy (component 'service': overall).",
            ["component"],
            registry=reg,
        )
        self.expired = Gauge(
            "memcore_store_expired_records",
            "Records the store has dropped as expired (Redis: the server's expired keys).",
            registry=reg,
        )
        self.breaker_state = Gauge(
            "memcore_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            ["breaker", "backend"],
            registry=reg,
        )
        self.outbox_records = Counter(
            "memcore_outbox_records",
            "Records of writes deferred to, replayed from or dropped by the outbox.",
            ["event"],
            registry=reg,
        )
        self.outbox_waiting = Gauge(
            "memcore_outbox_waiting_records",
            "Records of deferred writes waiting in the outbox.",
            registry=reg,
        )
        self.degraded_reads = Counter(
            "memcore_degraded_reads",
            "Reads answered empty or possibly incomplete while the store was unavailable.",
            ["operation"],
            registry=reg,
        )
        self.rate_limited = Counter(
            "memcore_rate_limited",
            "Calls refused by a per-user or global rate limit.",
            ["operation"],
            registry=reg,
        )
        self._scraped = _ScrapeTimeCollector()
        reg.register(self._scraped)

    def watch_cache(self, stats: CacheCounts, backend: str) -> None:
        """Export an embedding cache's counts (read when scraped)."""
        self._scraped.caches[backend] = stats

    def watch_pool(self, store: object, backend: str) -> None:
        """Export the connection pool of ``store``, if it reports one (read when scraped)."""
        if isinstance(store, PoolStatsSource):
            self._scraped.pools[backend] = store

    def retry_listener(self, backend: str) -> Callable[[str, BaseException, int, float], None]:
        """A :data:`~memcore.resilience.RetryListener` counting ``component.operation`` retries."""

        def count(name: str, error: BaseException, attempt: int, delay: float) -> None:  # noqa: ARG001
            component, _, operation = name.partition(".")
            self.retries.labels(component, operation, backend, type(error).__name__).inc()

        return count

    def breaker_listener(self, backend: str) -> Callable[[str, BreakerState], None]:
        """A breaker ``on_change`` callback setting ``memcore_breaker_state``."""

        def changed(name: str, state: BreakerState) -> None:
            self.breaker_state.labels(name, backend).set(state.code)

        return changed

    def watch_outbox(self, outbox: Outbox) -> Callable[[str, int], None]:
        """Export the records waiting in ``outbox``; returns its ``on_event`` callback."""
        self.outbox_waiting.set_function(lambda: outbox.size)

        def counted(event: str, records: int) -> None:
            self.outbox_records.labels(event).inc(records)

        return counted

    def degraded_read(self, operation: str) -> None:
        """Count a read answered without the store (a DegradationPolicy callback)."""
        self.degraded_reads.labels(operation).inc()

    def limited(self, operation: str) -> None:
        """Count a call refused by a rate limit (a RateLimits callback)."""
        self.rate_limited.labels(operation).inc()

    def record_health(self, report: HealthReport) -> None:
        """Set the health gauges from ``report`` (and the store's expired records)."""
        for check in report.checks:
            self.health.labels(check.component).set(HEALTH_VALUES[check.status])
            expired = check.facts.get("expired")
            if check.component == "store" and isinstance(expired, int):
                self.expired.set(expired)
        self.health.labels("service").set(HEALTH_VALUES[report.status])

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
