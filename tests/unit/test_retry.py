"""The retry policy: backoff with jitter, attempts, deadline, retryable errors only."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.domain import EmbeddingSchema, SearchFilter
from memcore.errors import (
    EmbeddingError,
    EmbeddingUnavailableError,
    StoreTimeoutError,
    StoreUnavailableError,
)
from memcore.observability import Metrics
from memcore.pipeline import Call, Pipeline
from memcore.ports import Embedder, MemoryStore, Vectors
from memcore.resilience import RetryConfig, RetryPolicy, retry_async, retry_sync

FAST = RetryConfig(max_attempts=4, base_delay=0.001, max_delay=0.002, deadline=None)


class FlakyStore(InMemoryStore):
    """Fails the first ``failures`` counts with a retryable error."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    async def count(self, user_id: str, filters: SearchFilter) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise StoreTimeoutError("timed out", operation="count", backend=self.backend)
        return await super().count(user_id, filters)


class FlakyEmbedder(HashingEmbedder):
    def __init__(self, error: Exception, failures: int) -> None:
        super().__init__(dimension=8)
        self.error, self.failures, self.calls = error, failures, 0

    async def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return await super().embed(texts)


async def test_retry_async_retries_retryable_errors_until_success() -> None:
    calls: list[int] = []
    seen: list[tuple[str, int]] = []

    @retry_async(FAST, on_retry=lambda name, _e, attempt, _d: seen.append((name, attempt)))
    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise StoreUnavailableError("refused")
        return "ok"

    assert await flaky() == "ok"
    assert len(calls) == 3
    assert [attempt for _, attempt in seen] == [1, 2]
    assert seen[0][0].endswith("flaky")


async def test_retry_async_gives_up_after_max_attempts_with_the_last_error() -> None:
    calls: list[int] = []

    @retry_async(RetryConfig(max_attempts=3, base_delay=0.001, max_delay=0.001))
    async def down() -> None:
        calls.append(1)
        raise StoreUnavailableError(f"refused {len(calls)}")

    with pytest.raises(StoreUnavailableError, match="refused 3"):
        await down()
    assert len(calls) == 3


async def test_non_retryable_errors_fail_at_once() -> None:
    calls: list[int] = []

    @retry_async(FAST)
    async def bad_key() -> None:
        calls.append(1)
        raise EmbeddingError("invalid API key")

    with pytest.raises(EmbeddingError):
        await bad_key()
    assert len(calls) == 1


async def test_the_deadline_stops_retries_before_attempts_run_out() -> None:
    calls: list[int] = []
    config = RetryConfig(max_attempts=100, base_delay=0.02, max_delay=0.02, deadline=0.1)

    @retry_async(config)
    async def down() -> None:
        calls.append(1)
        raise StoreUnavailableError("refused")

    started = time.perf_counter()
    with pytest.raises(StoreUnavailableError):
        await down()
    assert time.perf_counter() - started < 0.5
    assert 1 < len(calls) < 100


def test_retry_sync_is_the_blocking_twin() -> None:
    calls: list[int] = []

    @retry_sync(FAST)
    def flaky() -> int:
        calls.append(1)
        if len(calls) < 2:
            raise EmbeddingUnavailableError("overloaded")
        return len(calls)

    assert flaky() == 2


def test_backoff_waits_are_full_jitter_bounded_by_max_delay() -> None:
    config = RetryConfig(max_attempts=10, base_delay=0.5, max_delay=1.0)
    wait = config.tenacity_kwargs("x", None)["wait"]

    class State:
        attempt_number = 6

    waits = [wait(State()) for _ in range(200)]
    assert all(0 <= w <= 1.0 for w in waits)
    assert len({round(w, 6) for w in waits}) > 100  # jittered, not a fixed schedule


def test_invalid_configs_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryConfig(max_attempts=0)
    with pytest.raises(ValueError, match="deadline"):
        RetryConfig(deadline=0)


async def test_the_retry_policy_retries_store_calls_and_counts() -> None:
    metrics = Metrics()
    inner = FlakyStore(failures=2)
    policy = RetryPolicy(FAST, on_retry=metrics.retry_listener("memory"))
    store = Pipeline([policy]).store(inner)
    assert isinstance(store, MemoryStore)
    await store.ensure_schema(EmbeddingSchema(8, "m"))
    assert await store.count("u", SearchFilter()) == 0
    assert inner.calls == 3
    value = metrics.registry.get_sample_value(
        "memcore_retries_total",
        {
            "component": "store",
            "operation": "count",
            "backend": "memory",
            "error_type": "StoreTimeoutError",
        },
    )
    assert value == 2


async def test_the_retry_policy_retries_only_unavailable_embedder_errors() -> None:
    flaky = FlakyEmbedder(EmbeddingUnavailableError("503"), failures=1)
    embedder = Pipeline([RetryPolicy(FAST)]).embedder(flaky)
    assert isinstance(embedder, Embedder)
    assert (embedder.dimension, embedder.model) == (8, flaky.model)
    assert (await embedder.embed(["a"])).shape == (1, 8)
    assert flaky.calls == 2

    broken = FlakyEmbedder(EmbeddingError("401"), failures=5)
    with pytest.raises(EmbeddingError, match="401"):
        await Pipeline([RetryPolicy(FAST)]).embedder(broken).embed(["a"])
    assert broken.calls == 1


async def test_total_attempts_are_the_configured_attempts() -> None:
    flaky = FlakyEmbedder(EmbeddingUnavailableError("503"), failures=100)
    embedder = Pipeline([RetryPolicy(FAST)]).embedder(flaky)
    with pytest.raises(EmbeddingUnavailableError):
        await embedder.embed(["a"])
    assert flaky.calls == FAST.max_attempts


async def test_no_retry_starts_after_the_calls_deadline() -> None:
    flaky = FlakyStore(failures=100)
    store = Pipeline([RetryPolicy(FAST)]).store(flaky)
    await store.ensure_schema(EmbeddingSchema(8, "m"))
    past = Call("store", "count", "u", {"filters": SearchFilter()}, deadline=time.monotonic())
    with pytest.raises(StoreTimeoutError):
        await store.run(past)
    assert flaky.calls == 1
