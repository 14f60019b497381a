"""Port decorators that time every store and embedder call into :class:`Metrics`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from memcore.observability.metrics import Metrics
from memcore.ports import Embedder, MemoryStore
from memcore.wrapping import EmbedderWrapper, StoreWrapper

__all__ = ["InstrumentedEmbedder", "InstrumentedStore"]

T = TypeVar("T")


async def _timed(call: Callable[[], Awaitable[T]], record: Callable[[str, float], None]) -> T:
    """Await ``call`` and ``record(status, seconds)``, status ``ok`` or ``error``."""
    started = time.perf_counter()
    status = "error"
    try:
        result = await call()
        status = "ok"
    finally:
        record(status, time.perf_counter() - started)
    return result


class InstrumentedStore(StoreWrapper):
    """Records ``memcore_store_duration_seconds{operation, backend, status}`` per call."""

    def __init__(self, inner: MemoryStore, metrics: Metrics) -> None:
        super().__init__(inner)
        self.metrics = metrics
        metrics.watch(inner, self.backend)

    async def around(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        histogram = self.metrics.store_seconds
        return await _timed(
            call, lambda status, s: histogram.labels(operation, self.backend, status).observe(s)
        )


class InstrumentedEmbedder(EmbedderWrapper):
    """Records ``memcore_embed_duration_seconds{backend, status}`` per call."""

    def __init__(self, inner: Embedder, metrics: Metrics) -> None:
        super().__init__(inner)
        self.metrics = metrics
        metrics.watch(inner, self.backend)

    async def around(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:  # noqa: ARG002
        histogram = self.metrics.embed_seconds
        return await _timed(
            call, lambda status, s: histogram.labels(self.backend, status).observe(s)
        )
