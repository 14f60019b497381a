"""Logs, metrics, traces and health probes for memcore.

- :func:`configure_logging`: JSON lines or console output for ``memcore.*`` loggers.
- :class:`Metrics`: Prometheus metrics on a dedicated registry; :class:`MetricsPolicy`
  times every store and embedder call into it.
- :func:`start_metrics_server`: ``/metrics``, ``/healthz`` and ``/readyz`` over HTTP.
- :class:`Telemetry`: what a :class:`~memcore.MemoryService` logs and records.
- :func:`span`: OpenTelemetry spans when ``opentelemetry-api`` is installed.
"""

from memcore.observability.health import health_to_dict
from memcore.observability.http import MetricsServer, start_metrics_server
from memcore.observability.instrumented import MetricsPolicy
from memcore.observability.logs import ConsoleFormatter, JsonFormatter, configure_logging
from memcore.observability.metrics import (
    EXPORTED_METRICS,
    CacheCounts,
    Metrics,
    PoolStatsSource,
    PoolWaitSource,
)
from memcore.observability.operations import Telemetry, UserIdMode
from memcore.observability.tracing import span

__all__ = [
    "EXPORTED_METRICS",
    "CacheCounts",
    "ConsoleFormatter",
    "JsonFormatter",
    "Metrics",
    "MetricsPolicy",
    "MetricsServer",
    "PoolStatsSource",
    "PoolWaitSource",
    "Telemetry",
    "UserIdMode",
    "configure_logging",
    "health_to_dict",
    "span",
    "start_metrics_server",
]
