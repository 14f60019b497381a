"""An embedding cache in front of any :class:`~memcore.ports.Embedder`.

:class:`CachePolicy` (the pipeline's ``cache`` layer) looks every text up by a content address, the
``(model, dimension, sha256(text))`` of :func:`cache_key`, so a cache is never shared by
two models or two dimensions by mistake. It embeds only the misses, in one call to
``inner``, and concurrent misses for the same text embed it once (single flight): the
second caller waits for the first caller's result instead of paying for it again.

The cache itself is anything with the :class:`EmbeddingCache` methods: the in-process
:class:`LRUEmbeddingCache` here, or ``memcore_redis.RedisEmbeddingCache`` (shared by
processes, with a TTL) when ``agent-memcore-redis`` is installed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from memcore.domain import HealthCheck, Status
from memcore.errors import EmbeddingError, EmbeddingUnavailableError
from memcore.pipeline.call import Call, Handler, Policy, Port, Result
from memcore.ports import Vectors

__all__ = ["CachePolicy", "CacheStats", "EmbeddingCache", "LRUEmbeddingCache", "cache_key"]

Vector = NDArray[np.float32]
"""One ``(dimension,)`` float32 row."""


def cache_key(model: str, dimension: int, text: str) -> str:
    """The content address of ``text`` embedded by ``model`` at ``dimension``.

    ``"{model}:{dimension}:{sha256 hex of the UTF-8 text}"``: unique because the dimension
    has no colon and the digest a fixed length, printable, and free of memory content.
    """
    return f"{model}:{dimension}:{_digest(text)}"


def _digest(text: str) -> str:
    # surrogatepass: lone surrogates are valid Python text and must hash, not raise.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@runtime_checkable
class EmbeddingCache(Protocol):
    """Where cached vectors live. Safe for concurrent use from one event loop."""

    async def get_many(self, keys: Sequence[str]) -> list[Vector | None]:
        """Return the vector stored under each key, ``None`` for a miss, in key order.

        A cache that cannot be reached may answer misses instead of raising.
        """
        ...

    async def put_many(self, items: Sequence[tuple[str, Vector]]) -> None:
        """Store each ``(key, vector)``; the cache may evict or expire entries at will."""
        ...

    async def aclose(self) -> None:
        """Release connections. Calling it twice is harmless."""
        ...


@dataclass
class CacheStats:
    """Running counts, per text looked up, for metrics."""

    hits: int = 0
    """Texts answered from the cache."""
    misses: int = 0
    """Texts the inner embedder was asked for."""
    shared: int = 0
    """Texts that were missing but already being embedded for another caller."""

    @property
    def hit_ratio(self) -> float:
        """Share of lookups that did not call the inner embedder (0.0 before any)."""
        total = self.hits + self.misses + self.shared
        return (self.hits + self.shared) / total if total else 0.0


class LRUEmbeddingCache:
    """In-process cache keeping the ``max_entries`` most recently used vectors."""

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            msg = "max_entries must be at least 1"
            raise ValueError(msg)
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Vector] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get_many(self, keys: Sequence[str]) -> list[Vector | None]:
        entries = self._entries
        found: list[Vector | None] = []
        for key in keys:
            vector = entries.get(key)
            if vector is not None:
                entries.move_to_end(key)
            found.append(vector)
        return found

    async def put_many(self, items: Sequence[tuple[str, Vector]]) -> None:
        entries = self._entries
        for key, vector in items:
            # A private read-only copy: callers may reuse or mutate the array they passed.
            stored = np.array(vector, dtype=np.float32, copy=True)
            stored.flags.writeable = False
            entries[key] = stored
            entries.move_to_end(key)
        while len(entries) > self.max_entries:
            entries.popitem(last=False)

    async def aclose(self) -> None:
        self._entries.clear()


class CachePolicy(Policy):
    """The pipeline layer that answers repeated texts from ``cache``.

    It embeds only the misses, in one call down the chain, and concurrent misses for
    the same text embed it once (single flight). ``model`` and ``dimension`` are the
    embedder's: they are part of every key.
    """

    name = "cache"
    ports = frozenset({"embedder"})

    def __init__(self, cache: EmbeddingCache, *, model: str, dimension: int) -> None:
        self.cache = cache
        self.stats = CacheStats()
        self.dimension = dimension
        self._prefix = f"{model}:{dimension}"
        self._inflight: dict[str, asyncio.Future[Vector]] = {}

    async def __call__(self, call: Call, proceed: Handler) -> Result[Any]:
        texts: Sequence[str] = call.args["texts"]
        keys = [f"{self._prefix}:{_digest(text)}" for text in texts]
        unique = list(dict.fromkeys(keys))
        cached = await self.cache.get_many(unique)
        width = (self.dimension,)
        # A row of the wrong shape (a corrupt shared cache) is a miss, never a result.
        found = {
            key: vector
            for key, vector in zip(unique, cached, strict=True)
            if vector is not None and vector.shape == width
        }
        self.stats.hits += len(found)

        waiting: dict[str, asyncio.Future[Vector]] = {}
        mine: dict[str, asyncio.Future[Vector]] = {}
        loop = asyncio.get_running_loop()
        for key in unique:
            if key in found:
                continue
            if key in self._inflight:
                waiting[key] = self._inflight[key]
            else:
                mine[key] = self._inflight[key] = loop.create_future()
        self.stats.shared += len(waiting)
        self.stats.misses += len(mine)

        if mine:
            text_of = dict(zip(keys, texts, strict=True))
            misses = call.with_args(texts=[text_of[key] for key in mine])
            await self._fill(mine, lambda: proceed(misses))
            found.update((key, future.result()) for key, future in mine.items())
        for key, future in waiting.items():
            found[key] = await future

        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, key in enumerate(keys):
            out[row] = found[key]
        return Result(out, Status.COMPLETE)

    async def _fill(
        self,
        futures: dict[str, asyncio.Future[Vector]],
        embed: Callable[[], Awaitable[Result[Any]]],
    ) -> None:
        """Embed the texts of ``futures`` (in order), cache them and settle the futures."""
        try:
            rows = self._rows((await embed()).value, len(futures))
            for future, row in zip(futures.values(), rows, strict=True):
                future.set_result(row)
            # Still in flight until stored, so a concurrent caller cannot slip between.
            await self.cache.put_many(list(zip(futures, rows, strict=True)))
        except BaseException as exc:
            # Whoever shares these texts gets the same failure; a cancelled owner becomes
            # a retryable error for them, since they were not cancelled themselves.
            shared_exc: BaseException = exc
            if isinstance(exc, asyncio.CancelledError):
                shared_exc = EmbeddingUnavailableError(
                    "the embedding this call was waiting for was cancelled", operation="embed"
                )
            for future in futures.values():
                if not future.done():
                    future.set_exception(shared_exc)
                    future.exception()  # mark retrieved: no "never retrieved" log if unshared
            raise
        finally:
            for key in futures:
                self._inflight.pop(key, None)

    def _rows(self, vectors: Vectors, count: int) -> list[Vector]:
        if vectors.shape != (count, self.dimension):
            msg = f"embedder returned shape {vectors.shape} for {count} texts"
            raise EmbeddingError(msg, operation="embed")
        return list(vectors)

    def health(self, port: Port, check: HealthCheck) -> HealthCheck:
        del port
        facts = {
            **check.facts,
            "cache_hits": self.stats.hits,
            "cache_misses": self.stats.misses,
            "cache_shared": self.stats.shared,
        }
        return replace(check, facts=facts)

    async def aclose(self) -> None:
        await self.cache.aclose()

    def describe(self) -> str:
        return f"cache ({type(self.cache).__name__})"
