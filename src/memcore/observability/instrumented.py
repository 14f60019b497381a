"""The pipeline's metrics layer: every store and embedder call timed into :class:`Metrics`."""

from __future__ import annotations

import time
from typing import Any

from memcore.observability.metrics import Metrics
from memcore.observability.samples import LatencyChild
from memcore.pipeline.call import Call, Handler, InlinePolicy, Port, Result

__all__ = ["MetricsPolicy"]


class MetricsPolicy(InlinePolicy):
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
        # Families look labels up under a lock; a dict of children does not.
        self._children: dict[tuple[Port, str, str], LatencyChild] = {}

    def _histogram(self, port: Port, operation: str, status: str) -> LatencyChild:
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

    def enter(self, call: Call) -> float:
        del call
        return time.perf_counter()

    def exit(self, call: Call, token: float, result: Result[Any]) -> Result[Any]:
        seconds = time.perf_counter() - token
        child = self._children.get((call.port, call.operation, "ok"))
        if child is None:
            child = self._histogram(call.port, call.operation, "ok")
        child.observe(seconds)
        return result

    async def fail(
        self, call: Call, token: float, error: BaseException, proceed: Handler
    ) -> Result[Any]:
        del proceed
        self._histogram(call.port, call.operation, "error").observe(time.perf_counter() - token)
        raise error
