"""An embedding cache in Redis, shared by every process that points at it.

:class:`RedisEmbeddingCache` satisfies :class:`memcore.caching.EmbeddingCache`: with
``MEMCORE_CACHE__BACKEND=redis`` the pipeline's cache layer keeps vectors there, on the
``MEMCORE_REDIS_URL`` server, so no process re-embeds a text any process embedded before.

Entries are raw little-endian float32 bytes under ``{prefix}:{model}:{dimension}:{sha256}``
(keys carry no text), read with one MGET and written with one pipelined round of
``SET ... EX ttl``. A cache is an optimisation, so an unreachable or slow Redis turns
lookups into misses and drops writes (logged as warnings) instead of failing embeds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from redis.asyncio import Redis

from memcore.errors import EmbeddingError, StoreError, StoreUnavailableError
from memcore.settings import MemcoreSettings
from memcore_redis.errors import map_redis_errors
from memcore_redis.settings import redis_settings

__all__ = ["RedisEmbeddingCache"]

logger = logging.getLogger(__name__)

_WEEK = 7 * 24 * 3600


class RedisEmbeddingCache:
    """Cached vectors in Redis with a time to live; pass a URL or your own client.

    A client you pass stays yours (:meth:`aclose` leaves it open) and must not decode
    responses. With a URL, the cache owns its client and closes it.
    """

    def __init__(
        self,
        client: Redis | str,
        *,
        ttl: int | None = _WEEK,
        prefix: str = "memcore:embedding",
    ) -> None:
        if ttl is not None and ttl < 1:
            msg = "ttl must be at least one second, or None to keep entries until evicted"
            raise ValueError(msg)
        if isinstance(client, str):
            self._client: Redis = Redis.from_url(client)
            self._owns_client = True
        else:
            if client.connection_pool.connection_kwargs.get("decode_responses"):
                msg = "the cache stores raw bytes: pass a client with decode_responses=False"
                raise ValueError(msg)
            self._client = client
            self._owns_client = False
        self.ttl = ttl
        self.prefix = prefix

    async def get_many(self, keys: Sequence[str]) -> list[NDArray[np.float32] | None]:
        if not keys:
            return []
        try:
            with map_redis_errors("embedding_cache_get"):
                raw = await self._client.mget([f"{self.prefix}:{key}" for key in keys])
        except StoreUnavailableError as exc:
            logger.warning(
                "embedding cache unavailable, treating %d lookups as misses: %s", len(keys), exc
            )
            return [None] * len(keys)
        except StoreError as exc:
            raise _failed(exc) from exc
        return [_decode(value) for value in raw]

    async def put_many(self, items: Sequence[tuple[str, NDArray[np.float32]]]) -> None:
        if not items:
            return
        try:
            with map_redis_errors("embedding_cache_put"):
                async with self._client.pipeline(transaction=False) as pipe:
                    for key, vector in items:
                        value = np.ascontiguousarray(vector, dtype="<f4").tobytes()
                        pipe.set(f"{self.prefix}:{key}", value, ex=self.ttl)
                    await pipe.execute()
        except StoreUnavailableError as exc:
            logger.warning(
                "embedding cache unavailable, %d entries not stored: %s", len(items), exc
            )
        except StoreError as exc:
            raise _failed(exc) from exc

    @classmethod
    def from_settings(cls, settings: MemcoreSettings) -> RedisEmbeddingCache:
        """The cache on the ``redis`` section's server, under its key prefix."""
        redis = redis_settings(settings)
        return cls(redis.url, prefix=f"{redis.key_prefix}:embedding")

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def _decode(value: object) -> NDArray[np.float32] | None:
    if not isinstance(value, bytes) or not value or len(value) % 4:
        return None  # absent, or not something this cache wrote: a miss
    return np.frombuffer(value, dtype="<f4").astype(np.float32)


def _failed(exc: StoreError) -> EmbeddingError:
    # Not transient (bad credentials, a rejected command): the caller must hear of it.
    return EmbeddingError(
        f"embedding cache failed: {exc.message}", operation=exc.operation, backend="redis"
    )
