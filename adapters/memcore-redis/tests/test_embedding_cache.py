"""RedisEmbeddingCache on the real session server, alone and as the cache policy's cache."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest
import redis.asyncio as aioredis

from memcore.adapters.hashing import HashingEmbedder
from memcore.caching import CachePolicy, EmbeddingCache, cache_key
from memcore.errors import EmbeddingError
from memcore.pipeline import EmbedderFront, Pipeline
from memcore.ports import Embedder
from memcore.testing import EmbedderContract
from memcore_redis.embedding_cache import RedisEmbeddingCache

CacheFactory = Callable[..., RedisEmbeddingCache]


@pytest.fixture
async def make_cache(
    redis_server_url: str, raw_redis: aioredis.Redis
) -> AsyncIterator[CacheFactory]:
    """Caches on a fresh prefix (so tests never share entries); all closed and wiped after."""
    prefix = f"t{uuid.uuid4().hex[:12]}:emb"
    made: list[RedisEmbeddingCache] = []

    def make(**options: object) -> RedisEmbeddingCache:
        options.setdefault("prefix", prefix)
        cache = RedisEmbeddingCache(redis_server_url, **options)  # type: ignore[arg-type]
        made.append(cache)
        return cache

    yield make
    for cache in made:
        await cache.aclose()
    keys = [key async for key in raw_redis.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await raw_redis.delete(*keys)


def cached(inner: Embedder, cache: EmbeddingCache) -> EmbedderFront:
    policy = CachePolicy(cache, model=inner.model, dimension=inner.dimension)
    return Pipeline([policy]).embedder(inner)


def stats(embedder: EmbedderFront) -> tuple[int, int]:
    policy = embedder.pipeline.find(CachePolicy)
    assert policy is not None
    return policy.stats.hits, policy.stats.misses


class TestRedisCachedEmbedderContract(EmbedderContract):
    @pytest.fixture
    async def embedder(self, make_cache: CacheFactory) -> Embedder:
        return cached(HashingEmbedder(32), make_cache())  # cache closed by make_cache


async def test_vectors_round_trip_exactly_and_absent_keys_are_misses(
    make_cache: CacheFactory,
) -> None:
    cache = make_cache()
    assert isinstance(cache, EmbeddingCache)
    row = np.array([0.1, -2.5, 3e-8, np.float32(1) / 3], dtype=np.float32)
    await cache.put_many([("a", row)])
    found, missing = await cache.get_many(["a", "b"])
    assert missing is None
    assert found is not None
    assert found.dtype == np.float32
    np.testing.assert_array_equal(found, row)
    assert await cache.get_many([]) == []


async def test_entries_expire_after_the_ttl(
    make_cache: CacheFactory, raw_redis: aioredis.Redis
) -> None:
    cache = make_cache(ttl=120)
    await cache.put_many([("k", np.ones(4, dtype=np.float32))])
    assert 0 < await raw_redis.ttl(f"{cache.prefix}:k") <= 120
    forever = make_cache(ttl=None, prefix=f"{cache.prefix}-forever")
    await forever.put_many([("k", np.ones(4, dtype=np.float32))])
    assert await raw_redis.ttl(f"{forever.prefix}:k") == -1


async def test_processes_share_the_cache(make_cache: CacheFactory) -> None:
    first = cached(HashingEmbedder(16), make_cache())
    second = cached(HashingEmbedder(16), make_cache())  # another process's view
    texts = ["shared text", "another one"]
    expected = await first.embed(texts)
    np.testing.assert_array_equal(await second.embed(texts), expected)
    assert stats(second) == (2, 0)


async def test_keys_hold_no_text(make_cache: CacheFactory, raw_redis: aioredis.Redis) -> None:
    cache = make_cache()
    embedder = cached(HashingEmbedder(8), cache)
    await embedder.embed(["a private note"])
    keys = [key async for key in raw_redis.scan_iter(match=f"{cache.prefix}:*")]
    assert [key.decode() for key in keys] == [
        f"{cache.prefix}:{cache_key('memcore-hashing-v1', 8, 'a private note')}"
    ]


async def test_foreign_values_are_misses(
    make_cache: CacheFactory, raw_redis: aioredis.Redis
) -> None:
    cache = make_cache()
    await raw_redis.set(f"{cache.prefix}:odd", b"abc")
    assert await cache.get_many(["odd"]) == [None]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_unreachable_redis_degrades_to_misses(caplog: pytest.LogCaptureFixture) -> None:
    cache = RedisEmbeddingCache(f"redis://127.0.0.1:{_closed_port()}/0")
    embedder = cached(HashingEmbedder(8), cache)
    out = await embedder.embed(["still works"])
    np.testing.assert_array_equal(out, HashingEmbedder(8).embed_sync(["still works"]))
    assert stats(embedder)[1] == 1
    assert "embedding cache unavailable" in caplog.text
    await embedder.aclose()


async def test_a_rejected_command_is_an_embedding_error(make_cache: CacheFactory) -> None:
    bad = make_cache()
    bad.ttl = 0  # the constructor refuses it; the server rejects SET ... EX 0
    with pytest.raises(EmbeddingError, match="embedding cache failed"):
        await bad.put_many([("k", np.ones(2, dtype=np.float32))])


async def test_a_given_client_stays_open_and_must_not_decode(redis_server_url: str) -> None:
    client = aioredis.Redis.from_url(redis_server_url)
    cache = RedisEmbeddingCache(client, prefix=f"t{uuid.uuid4().hex[:12]}")
    await cache.aclose()
    assert await client.ping()
    await client.aclose()
    decoding = aioredis.Redis.from_url(redis_server_url, decode_responses=True)
    with pytest.raises(ValueError, match="decode_responses"):
        RedisEmbeddingCache(decoding)
    await decoding.aclose()
    with pytest.raises(ValueError, match="ttl"):
        RedisEmbeddingCache(redis_server_url, ttl=0)
