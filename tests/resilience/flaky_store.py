"""Test doubles: an in-memory store and an embedder that fail on demand."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.domain import EmbeddingSchema
from memcore.errors import (
    EmbeddingUnavailableError,
    MemcoreError,
    StoreTimeoutError,
    StoreUnavailableError,
)
from memcore.wrapping import EmbedderWrapper, StoreWrapper

T = TypeVar("T")

SCHEMA = EmbeddingSchema(dimension=8, model="flaky-test")


class FlakyStore(StoreWrapper):
    """An in-memory store raising ``error`` on every call while ``down``.

    ``fail_next`` fails that many calls, then works again; ``down_after`` lets that many
    calls through, then goes down; ``land_then_fail`` makes
    writes happen but still time out (the "did it land?" case).
    """

    def __init__(self) -> None:
        super().__init__(InMemoryStore())
        self.memory: InMemoryStore = self.inner  # type: ignore[assignment]
        self.down = False
        self.fail_next = 0
        self.land_then_fail = False
        self.down_after: int | None = None
        self.error: type[MemcoreError] = StoreUnavailableError
        self.calls: list[str] = []

    async def around(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        self.calls.append(operation)
        if self.down_after is not None:
            self.down, self.down_after = self.down_after <= 0, self.down_after - 1
        if self.land_then_fail:
            await call()
            raise StoreTimeoutError("timed out after landing", operation=operation)
        if self.down or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            raise self.error("injected failure", operation=operation, backend="flaky")
        return await call()


class FlakyEmbedder(EmbedderWrapper):
    """A hashing embedder that raises ``EmbeddingUnavailableError`` while ``down``."""

    def __init__(self) -> None:
        super().__init__(HashingEmbedder(dimension=SCHEMA.dimension))
        self.down = False

    async def around(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        if self.down:
            raise EmbeddingUnavailableError("injected failure", operation=operation)
        return await call()
