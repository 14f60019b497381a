"""The cache policy and LRUEmbeddingCache: hits, single flight, bounds, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest

from memcore.adapters.hashing import HashingEmbedder
from memcore.caching import CachePolicy, EmbeddingCache, LRUEmbeddingCache, cache_key
from memcore.domain import HealthCheck
from memcore.errors import EmbeddingError, EmbeddingUnavailableError
from memcore.pipeline import EmbedderFront, Pipeline
from memcore.ports import Embedder, Vectors
from memcore.testing import EmbedderContract


class RecordingEmbedder:
    """A HashingEmbedder that records every batch it is asked for and can be held or broken."""

    backend = "recording"

    def __init__(self, dimension: int = 8) -> None:
        self._inner = HashingEmbedder(dimension)
        self.calls: list[list[str]] = []
        self.gate: asyncio.Event | None = None
        self.failure: BaseException | None = None
        self.short_by = 0
        self.closed = 0

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    @property
    def model(self) -> str:
        return self._inner.model

    async def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        return self._inner.embed_sync(texts[self.short_by :])

    async def health(self) -> HealthCheck:
        return await self._inner.health()

    async def aclose(self) -> None:
        self.closed += 1


def cached(inner: Embedder, cache: EmbeddingCache) -> EmbedderFront:
    policy = CachePolicy(cache, model=inner.model, dimension=inner.dimension)
    return Pipeline([policy]).embedder(inner)


def cache_of(embedder: EmbedderFront) -> CachePolicy:
    policy = embedder.pipeline.find(CachePolicy)
    assert policy is not None
    return policy


@pytest.fixture
def inner() -> RecordingEmbedder:
    return RecordingEmbedder()


@pytest.fixture
def embedder(inner: RecordingEmbedder) -> EmbedderFront:
    return cached(inner, LRUEmbeddingCache(max_entries=100))


def test_wrapper_and_cache_satisfy_the_protocols(embedder: EmbedderFront) -> None:
    assert isinstance(embedder, Embedder)
    assert isinstance(LRUEmbeddingCache(), EmbeddingCache)
    assert (embedder.backend, embedder.model, embedder.dimension) == (
        "recording",
        "memcore-hashing-v1",
        8,
    )


async def test_second_call_is_answered_from_the_cache(
    embedder: EmbedderFront, inner: RecordingEmbedder
) -> None:
    first = await embedder.embed(["alpha", "beta"])
    second = await embedder.embed(["beta", "alpha"])
    assert inner.calls == [["alpha", "beta"]]
    np.testing.assert_array_equal(second, first[::-1])
    np.testing.assert_array_equal(first, inner._inner.embed_sync(["alpha", "beta"]))
    assert second.dtype == np.float32
    assert second.flags.c_contiguous
    assert (cache_of(embedder).stats.hits, cache_of(embedder).stats.misses) == (2, 2)
    assert cache_of(embedder).stats.hit_ratio == 0.5


async def test_only_misses_reach_the_inner_embedder_once_each(
    embedder: EmbedderFront, inner: RecordingEmbedder
) -> None:
    await embedder.embed(["a"])
    out = await embedder.embed(["a", "b", "b", "c", "a"])
    assert inner.calls == [["a"], ["b", "c"]]
    np.testing.assert_array_equal(out, inner._inner.embed_sync(["a", "b", "b", "c", "a"]))


async def test_empty_input_gives_an_empty_matrix(
    embedder: EmbedderFront, inner: RecordingEmbedder
) -> None:
    out = await embedder.embed([])
    assert out.shape == (0, 8)
    assert out.dtype == np.float32
    assert inner.calls == []


async def test_concurrent_misses_for_the_same_text_embed_once(
    embedder: EmbedderFront, inner: RecordingEmbedder
) -> None:
    inner.gate = asyncio.Event()
    calls = [asyncio.create_task(embedder.embed(["same", other])) for other in ("x", "y", "z")]
    await asyncio.sleep(0)
    inner.gate.set()
    results = await asyncio.gather(*calls)
    assert inner.calls == [["same", "x"], ["y"], ["z"]]
    for result in results:
        np.testing.assert_array_equal(result[0], results[0][0])
    assert cache_of(embedder).stats.shared == 2


async def test_a_failure_reaches_every_caller_sharing_it_and_is_not_cached(
    embedder: EmbedderFront, inner: RecordingEmbedder
) -> None:
    inner.gate = asyncio.Event()
    inner.failure = EmbeddingUnavailableError("down", backend="recording")
    calls = [asyncio.create_task(embedder.embed(["t"])) for _ in range(3)]
    await asyncio.sleep(0)
    inner.gate.set()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(outcome, EmbeddingUnavailableError) for outcome in outcomes)
    assert len(inner.calls) == 1

    inner.gate, inner.failure = None, None
    await embedder.embed(["t"])
    assert len(inner.calls) == 2


async def test_a_cancelled_owner_gives_waiters_a_retryable_error(
    embedder: EmbedderFront, inner: RecordingEmbedder
) -> None:
    inner.gate = asyncio.Event()
    owner = asyncio.create_task(embedder.embed(["t"]))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(embedder.embed(["t"]))
    await asyncio.sleep(0)
    owner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await owner
    with pytest.raises(EmbeddingUnavailableError, match="cancelled") as caught:
        await waiter
    assert caught.value.retryable


async def test_a_short_reply_from_the_inner_embedder_fails_instead_of_hanging(
    embedder: EmbedderFront, inner: RecordingEmbedder
) -> None:
    inner.short_by = 1
    waiter_gate = asyncio.Event()
    inner.gate = waiter_gate
    owner = asyncio.create_task(embedder.embed(["a", "b"]))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(embedder.embed(["b"]))
    await asyncio.sleep(0)
    waiter_gate.set()
    for task in (owner, waiter):
        with pytest.raises(EmbeddingError, match="shape"):
            await asyncio.wait_for(task, timeout=5)


async def test_cached_rows_do_not_change_when_callers_mutate_results(
    embedder: EmbedderFront,
) -> None:
    first = await embedder.embed(["m"])
    expected = first.copy()
    first[:] = 0.0
    np.testing.assert_array_equal(await embedder.embed(["m"]), expected)


async def test_a_cached_row_of_the_wrong_shape_is_a_miss(
    embedder: EmbedderFront, inner: RecordingEmbedder
) -> None:
    key = cache_key(inner.model, inner.dimension, "t")
    await cache_of(embedder).cache.put_many([(key, np.ones(3, dtype=np.float32))])
    out = await embedder.embed(["t"])
    assert inner.calls == [["t"]]
    np.testing.assert_array_equal(out[0], inner._inner.embed_sync(["t"])[0])


async def test_keys_separate_models_and_dimensions() -> None:
    cache = LRUEmbeddingCache()
    small, large = RecordingEmbedder(4), RecordingEmbedder(16)
    assert (await cached(small, cache).embed(["t"])).shape == (1, 4)
    assert (await cached(large, cache).embed(["t"])).shape == (1, 16)
    assert len(cache) == 2
    assert cache_key("m", 4, "t") != cache_key("m", 16, "t") != cache_key("n", 4, "t")
    assert "secret text" not in cache_key("m", 4, "secret text")


async def test_lru_evicts_the_least_recently_used_entry() -> None:
    cache = LRUEmbeddingCache(max_entries=2)
    row = np.ones(3, dtype=np.float32)
    await cache.put_many([("a", row), ("b", row * 2)])
    assert (await cache.get_many(["a"]))[0] is not None  # "a" becomes most recent
    await cache.put_many([("c", row * 3)])
    found = await cache.get_many(["a", "b", "c"])
    assert [value is None for value in found] == [False, True, False]
    assert len(cache) == 2


def test_lru_rejects_a_size_below_one() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        LRUEmbeddingCache(max_entries=0)


async def test_health_adds_cache_counts(embedder: EmbedderFront) -> None:
    await embedder.embed(["h", "h"])
    await embedder.embed(["h"])
    check = await embedder.health()
    assert check.facts["cache_hits"] == 1
    assert check.facts["cache_misses"] == 1
    assert check.facts["model"] == "memcore-hashing-v1"


async def test_aclose_closes_both_parts(embedder: EmbedderFront, inner: RecordingEmbedder) -> None:
    await embedder.embed(["c"])
    await embedder.aclose()
    await embedder.aclose()
    assert inner.closed == 2
    assert len(cache_of(embedder).cache) == 0  # type: ignore[arg-type]


class TestCachedEmbedderContract(EmbedderContract):
    @pytest.fixture
    async def embedder(self) -> AsyncIterator[Embedder]:
        front = cached(HashingEmbedder(32), LRUEmbeddingCache(max_entries=4))
        yield front
        await front.aclose()
