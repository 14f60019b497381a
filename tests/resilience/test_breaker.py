from __future__ import annotations

import asyncio

import numpy as np
import pytest
from flaky_store import SCHEMA, FlakyEmbedder, FlakyStore

from memcore.domain import HealthStatus, SearchFilter
from memcore.errors import (
    CircuitOpenError,
    EmbedderCircuitOpenError,
    EmbeddingUnavailableError,
    StoreCircuitOpenError,
    StoreUnavailableError,
    ValidationError,
    VectorSearchError,
)
from memcore.pipeline import Pipeline
from memcore.resilience.breaker import (
    BreakerConfig,
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


CONFIG = BreakerConfig(failure_rate=0.5, min_calls=4, window=10, buckets=5, open_for=2)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def changes() -> list[tuple[str, BreakerState]]:
    return []


@pytest.fixture
def breaker(clock: Clock, changes: list[tuple[str, BreakerState]]) -> CircuitBreaker:
    return CircuitBreaker(
        "store", CONFIG, clock=clock, on_change=lambda *change: changes.append(change)
    )


def refuse(retry_after: float) -> CircuitOpenError:
    return StoreCircuitOpenError("open", retry_after=retry_after)


async def ok() -> str:
    return "ok"


async def fail() -> str:
    raise StoreUnavailableError("down")


async def run(breaker: CircuitBreaker, outcomes: str) -> None:
    """Feed calls: ``o`` succeeds, ``x`` fails retryably."""
    for outcome in outcomes:
        if outcome == "x":
            with pytest.raises(StoreUnavailableError):
                await breaker.call(fail, refuse)
        else:
            assert await breaker.call(ok, refuse) == "ok"


async def test_stays_closed_below_min_calls(breaker: CircuitBreaker) -> None:
    await run(breaker, "xxx")
    assert breaker.state is BreakerState.CLOSED


async def test_opens_at_failure_rate_and_fails_fast(
    breaker: CircuitBreaker, changes: list[tuple[str, BreakerState]]
) -> None:
    await run(breaker, "ooxx")
    assert breaker.state is BreakerState.OPEN
    assert changes == [("store", BreakerState.OPEN)]
    calls = 0

    async def counted() -> str:
        nonlocal calls
        calls += 1
        return "ok"

    with pytest.raises(StoreCircuitOpenError) as caught:
        await breaker.call(counted, refuse)
    assert calls == 0
    assert caught.value.retryable
    assert caught.value.retry_after == pytest.approx(2.0)


async def test_stays_closed_under_failure_rate(breaker: CircuitBreaker) -> None:
    await run(breaker, "oooxoooxooox")
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failure_rate() == (12, pytest.approx(0.25))


async def test_old_failures_leave_the_window(breaker: CircuitBreaker, clock: Clock) -> None:
    await run(breaker, "xxx")
    clock.now += 10.5
    await run(breaker, "ooox")
    assert breaker.failure_rate() == (4, pytest.approx(0.25))
    assert breaker.state is BreakerState.CLOSED


async def test_half_open_probe_success_closes(
    breaker: CircuitBreaker, clock: Clock, changes: list[tuple[str, BreakerState]]
) -> None:
    await run(breaker, "xxxx")
    clock.now += 2
    assert breaker.state is BreakerState.HALF_OPEN
    assert await breaker.call(ok, refuse) == "ok"
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failure_rate() == (0, 0.0)
    assert [state for _, state in changes] == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]


async def test_half_open_probe_failure_reopens(breaker: CircuitBreaker, clock: Clock) -> None:
    await run(breaker, "xxxx")
    clock.now += 2
    await run(breaker, "x")
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after() == pytest.approx(2.0)


async def test_half_open_lets_one_probe_through(breaker: CircuitBreaker, clock: Clock) -> None:
    await run(breaker, "xxxx")
    clock.now += 2
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "ok"

    probe = asyncio.create_task(breaker.call(slow, refuse))
    await asyncio.sleep(0)
    with pytest.raises(StoreCircuitOpenError):
        await breaker.call(ok, refuse)
    release.set()
    assert await probe == "ok"
    assert breaker.state is BreakerState.CLOSED


async def test_cancelled_probe_frees_the_slot(breaker: CircuitBreaker, clock: Clock) -> None:
    await run(breaker, "xxxx")
    clock.now += 2
    probe = asyncio.create_task(breaker.call(asyncio.Event().wait, refuse))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert await breaker.call(ok, refuse) == "ok"


@pytest.mark.parametrize(
    "error", [ValidationError("k", "bad"), VectorSearchError("rejected"), KeyError("x")]
)
async def test_non_retryable_errors_never_trip_it(
    breaker: CircuitBreaker, error: Exception
) -> None:
    async def broken() -> str:
        raise error

    for _ in range(10):
        with pytest.raises(type(error)):
            await breaker.call(broken, refuse)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failure_rate() == (10, 0.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"failure_rate": 0}, {"failure_rate": 1.5}, {"min_calls": 0}, {"window": 0}, {"probes": 0}],
)
def test_config_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        BreakerConfig(**kwargs)  # type: ignore[arg-type]


async def test_breaker_store_fails_fast_and_reports_degraded(clock: Clock) -> None:
    flaky = FlakyStore()
    breaker = CircuitBreaker("store", CONFIG, clock=clock)
    store = Pipeline([BreakerPolicy("store", breaker, backend="flaky")]).store(flaky)
    await store.ensure_schema(SCHEMA)
    flaky.down = True
    for _ in range(4):
        with pytest.raises(StoreUnavailableError):
            await store.count("u", SearchFilter())
    flaky.calls.clear()
    with pytest.raises(StoreCircuitOpenError) as caught:
        await store.count("u", SearchFilter())
    assert flaky.calls == []
    assert caught.value.operation == "count"
    health = await store.health()
    assert health.status is HealthStatus.DEGRADED
    assert health.facts["breaker"] == "open"
    flaky.down = False
    clock.now += 2
    assert await store.count("u", SearchFilter()) == 0
    assert (await store.health()).status is HealthStatus.HEALTHY


async def test_breaker_embedder_fails_fast(clock: Clock) -> None:
    flaky = FlakyEmbedder()
    breaker = CircuitBreaker("embedder", CONFIG, clock=clock)
    embedder = Pipeline([BreakerPolicy("embedder", breaker, backend="hashing")]).embedder(flaky)
    flaky.down = True
    for _ in range(4):
        with pytest.raises(EmbeddingUnavailableError) as caught:
            await embedder.embed(["x"])
        assert not isinstance(caught.value, CircuitOpenError)
    with pytest.raises(EmbedderCircuitOpenError):
        await embedder.embed(["x"])
    flaky.down = False
    clock.now += 2
    vectors = await embedder.embed(["x"])
    assert vectors.shape == (1, embedder.dimension)
    assert np.isfinite(vectors).all()
