"""Test doubles: an in-memory store and an embedder that fail on demand."""

from __future__ import annotations

from typing import Any

from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.domain import EmbeddingSchema, HealthCheck
from memcore.errors import (
    EmbeddingUnavailableError,
    MemcoreError,
    StoreTimeoutError,
    StoreUnavailableError,
)
from memcore.pipeline import (
    Call,
    EmbedderCalls,
    Result,
    StoreCalls,
    embedder_terminal,
    store_terminal,
)

SCHEMA = EmbeddingSchema(dimension=8, model="flaky-test")


class FlakyStore(StoreCalls):
    """An in-memory store raising ``error`` on every call while ``down``.

    ``fail_next`` fails that many calls, then works again; ``down_after`` lets that many
    calls through, then goes down; ``land_then_fail`` makes
    writes happen but still time out (the "did it land?" case).
    """

    backend = "flaky"

    def __init__(self, memory: InMemoryStore | None = None) -> None:
        self.memory = memory or InMemoryStore()
        self._terminal = store_terminal(self.memory)
        self.down = False
        self.fail_next = 0
        self.land_then_fail = False
        self.down_after: int | None = None
        self.error: type[MemcoreError] = StoreUnavailableError
        self.calls: list[str] = []

    @property
    def target(self) -> str:
        return f"flaky:{self.memory.target}"

    async def run(self, call: Call) -> Result[Any]:
        operation = call.operation
        self.calls.append(operation)
        if self.down_after is not None:
            self.down, self.down_after = self.down_after <= 0, self.down_after - 1
        if self.land_then_fail:
            await self._terminal(call)
            raise StoreTimeoutError("timed out after landing", operation=operation)
        if self.down or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            raise self.error("injected failure", operation=operation, backend="flaky")
        return await self._terminal(call)

    async def health(self) -> HealthCheck:
        return await self.memory.health()

    async def aclose(self) -> None:
        await self.memory.aclose()


class FlakyEmbedder(EmbedderCalls):
    """A hashing embedder that raises ``EmbeddingUnavailableError`` while ``down``."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder(dimension=SCHEMA.dimension)
        self.backend = self.inner.backend
        self._terminal = embedder_terminal(self.inner)
        self.down = False

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def model(self) -> str:
        return self.inner.model

    async def run(self, call: Call) -> Result[Any]:
        if self.down:
            raise EmbeddingUnavailableError("injected failure", operation=call.operation)
        return await self._terminal(call)

    async def health(self) -> HealthCheck:
        return await self.inner.health()

    async def aclose(self) -> None:
        await self.inner.aclose()
