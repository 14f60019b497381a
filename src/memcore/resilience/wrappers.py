"""Port decorators that retry the retryable failures of a store or an embedder.

Every store method is safe to repeat: writes are upserts by id, deletes of missing ids
are no-ops, reads have no effect. So a timed-out write is simply written again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar, TypeVar

from memcore.ports import Embedder, MemoryStore
from memcore.resilience.retry import RetryConfig, RetryListener, call_with_retry
from memcore.wrapping import EmbedderWrapper, StoreWrapper

__all__ = ["RetryingEmbedder", "RetryingStore"]

T = TypeVar("T")


class _RetryPolicy:
    """``around`` for both wrappers: retry under ``config``, named ``<component>.<operation>``."""

    component: ClassVar[str]
    config: RetryConfig
    on_retry: RetryListener | None

    def _use(self, config: RetryConfig | None, on_retry: RetryListener | None) -> None:
        self.config = config or RetryConfig()
        self.on_retry = on_retry

    async def around(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        name = f"{self.component}.{operation}"
        return await call_with_retry(call, self.config, name=name, on_retry=self.on_retry)


class RetryingStore(_RetryPolicy, StoreWrapper):
    """Retries each store call under ``config``; retries are named ``store.<operation>``."""

    def __init__(
        self,
        inner: MemoryStore,
        config: RetryConfig | None = None,
        *,
        on_retry: RetryListener | None = None,
    ) -> None:
        StoreWrapper.__init__(self, inner)
        self._use(config, on_retry)


class RetryingEmbedder(_RetryPolicy, EmbedderWrapper):
    """Retries each ``embed`` under ``config``; retries are named ``embedder.embed``."""

    def __init__(
        self,
        inner: Embedder,
        config: RetryConfig | None = None,
        *,
        on_retry: RetryListener | None = None,
    ) -> None:
        EmbedderWrapper.__init__(self, inner)
        self._use(config, on_retry)
