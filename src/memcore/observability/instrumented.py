"""The pipeline's metrics layer: every store and embedder call timed into :class:`Metrics`."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Histogram

from memcore.observability.metrics import Metrics
from memcore.pipeline.call import Call, Handler, Policy, Port, Result

__all__ = ["MetricsPolicy"]


class MetricsPolicy(Policy):
    """Records ``memcore_store_duration_seconds{operation, backend, status}`` and
    ``memcore_embed_duration_seconds{backend, status}``, status ``ok`` or ``error``.

    It sits inside the breaker and outside retries: one sample per call as the caller
    felt it, retries included (they are counted apart, in ``memcore_retries_total``).
    """

    name = "metrics"

    def __init__(self, metrics: Metrics, backends: dict[Port, str]) -> None:
        self.metrics = metrics
        self.ports = frozenset(backends)
        self.backends = backends
        # prometheus_client looks labels up under a lock; a dict of children does not.
        self._children: dict[tuple[Port, str, str], Histogram] = {}

    def _histogram(self, port: Port, operation: str, status: str) -> Histogram:
        key = (port, operation, status)
        child = self._children.get(key)
        if child is None:
            backend = self.backends[port]
            child = self._children[key] = (
                self.metrics.embed_seconds.labels(backend, status)
                if port == "embedder"
                else self.metrics.store_seconds.labels(operation, backend, status)
            )
        return child

    async def __call__(self, call: Call, proceed: Handler) -> Result[Any]:
        started = time.perf_counter()
        status = "error"
        try:
            result = await proceed(call)
            status = "ok"
        finally:
            self._histogram(call.port, call.operation, status).observe(
                time.perf_counter() - started
            )
        return result
