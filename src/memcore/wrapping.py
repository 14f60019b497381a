"""Base classes for port decorators: wrappers that are themselves a store or an embedder.

:class:`StoreWrapper` and :class:`EmbedderWrapper` forward every call to ``inner``
through one hook, :meth:`~StoreWrapper.around`, so a policy (retry, metrics) is written
once instead of once per method. ``health`` and ``aclose`` pass straight through: a
probe must not be retried, and closing is not an operation to measure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar, TypeVar

from memcore.domain import (
    EmbeddingSchema,
    HealthCheck,
    MemoryRecord,
    Page,
    SearchFilter,
    SearchHit,
)
from memcore.ports import Embedder, MemoryStore, Vectors

__all__ = ["EmbedderWrapper", "StoreWrapper"]

T = TypeVar("T")


class StoreWrapper:
    """A :class:`~memcore.ports.MemoryStore` running each data call through :meth:`around`."""

    #: The port's name in policy names, metrics and errors (``store.upsert``).
    component: ClassVar[str] = "store"

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.backend = inner.backend

    async def around(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:  # noqa: ARG002 - for subclasses
        """Run ``call`` (a fresh call of ``inner``'s ``operation`` each time it is called)."""
        return await call()

    async def ensure_schema(self, schema: EmbeddingSchema) -> None:
        await self.around("ensure_schema", lambda: self.inner.ensure_schema(schema))

    async def upsert(self, user_id: str, records: Sequence[MemoryRecord], vectors: Vectors) -> None:
        await self.around("upsert", lambda: self.inner.upsert(user_id, records, vectors))

    async def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        return await self.around("get", lambda: self.inner.get(user_id, ids))

    async def get_with_vectors(
        self, user_id: str, ids: Sequence[str]
    ) -> tuple[list[MemoryRecord], Vectors]:
        return await self.around(
            "get_with_vectors", lambda: self.inner.get_with_vectors(user_id, ids)
        )

    async def user_ids(self) -> list[str]:
        return await self.around("user_ids", self.inner.user_ids)

    async def delete(self, user_id: str, ids: Sequence[str]) -> int:
        return await self.around("delete", lambda: self.inner.delete(user_id, ids))

    async def search(
        self, user_id: str, vector: Vectors, k: int, filters: SearchFilter
    ) -> list[SearchHit[MemoryRecord]]:
        return await self.around("search", lambda: self.inner.search(user_id, vector, k, filters))

    async def list(
        self, user_id: str, filters: SearchFilter, limit: int, cursor: str | None = None
    ) -> Page[MemoryRecord]:
        return await self.around("list", lambda: self.inner.list(user_id, filters, limit, cursor))

    async def count(self, user_id: str, filters: SearchFilter) -> int:
        return await self.around("count", lambda: self.inner.count(user_id, filters))

    async def forget_user(self, user_id: str) -> int:
        return await self.around("forget_user", lambda: self.inner.forget_user(user_id))

    async def health(self) -> HealthCheck:
        return await self.inner.health()

    async def aclose(self) -> None:
        await self.inner.aclose()


class EmbedderWrapper:
    """An :class:`~memcore.ports.Embedder` running each ``embed`` through :meth:`around`."""

    #: The port's name in policy names, metrics and errors (``embedder.embed``).
    component: ClassVar[str] = "embedder"

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.backend = inner.backend

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def model(self) -> str:
        return self.inner.model

    async def around(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:  # noqa: ARG002 - for subclasses
        """Run ``call`` (a fresh call of ``inner``'s ``operation`` each time it is called)."""
        return await call()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        return await self.around("embed", lambda: self.inner.embed(texts))

    async def health(self) -> HealthCheck:
        return await self.inner.health()

    async def aclose(self) -> None:
        await self.inner.aclose()
