from __future__ import annotations

import asyncio

import pytest

from memcore.errors import RateLimitedError, StoreError, StoreUnavailableError
from memcore.resilience.ratelimit import (
    GLOBAL_KEY,
    InProcessRateLimiter,
    Rate,
    RateLimiter,
    RateLimits,
    gcra,
)


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(clock: Clock) -> InProcessRateLimiter:
    return InProcessRateLimiter(clock)


def test_gcra_allows_burst_then_one_per_interval() -> None:
    rate = Rate(per_second=2, burst=3)
    tat, now = 0.0, 10.0
    for _ in range(3):
        tat, wait = gcra(tat, now, rate)
        assert wait == 0
    refused, wait = gcra(tat, now, rate)
    assert refused == tat
    assert wait == pytest.approx(0.5)
    _, wait = gcra(tat, now + 0.5, rate)
    assert wait == 0


@pytest.mark.parametrize("kwargs", [{"per_second": 0}, {"per_second": -1}, {"burst": 0}])
def test_rate_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        Rate(**{"per_second": 1, **kwargs})  # type: ignore[arg-type]


def test_in_process_limiter_is_a_rate_limiter(limiter: InProcessRateLimiter) -> None:
    assert isinstance(limiter, RateLimiter)


async def test_all_or_nothing(limiter: InProcessRateLimiter) -> None:
    tight, loose = Rate(1, burst=1), Rate(100, burst=100)
    assert await limiter.acquire([("a", loose), ("b", tight)]) == 0
    assert await limiter.acquire([("a", loose), ("b", tight)]) == pytest.approx(1.0)
    # The refused call took nothing from "a": it still has 99 of its burst left.
    for _ in range(99):
        assert await limiter.acquire([("a", loose)]) == 0
    assert await limiter.acquire([("a", loose)]) > 0


async def test_one_user_never_affects_another(clock: Clock, limiter: InProcessRateLimiter) -> None:
    limits = RateLimits(limiter, per_user=Rate(per_second=1, burst=2))
    await limits.check("alice", "search")
    await limits.check("alice", "search")
    with pytest.raises(RateLimitedError) as caught:
        await limits.check("alice", "search")
    assert caught.value.retry_after == pytest.approx(1.0)
    assert caught.value.user_id == "alice"
    assert caught.value.operation == "search"
    assert not caught.value.retryable
    # Ids that look alike (prefixes, the global key itself) have their own buckets.
    for other in ("bob", "alice ", "alic", "aliceX", GLOBAL_KEY, "user:alice"):
        await limits.check(other, "search")
        await limits.check(other, "search")
    clock.now += 1
    await limits.check("alice", "search")


async def test_global_limit_caps_everyone(limiter: InProcessRateLimiter) -> None:
    refused: list[str] = []
    limits = RateLimits(
        limiter, per_user=Rate(10, burst=10), overall=Rate(1, burst=3), on_limited=refused.append
    )
    for user in ("a", "b", "c"):
        await limits.check(user, "record")
    with pytest.raises(RateLimitedError):
        await limits.check("d", "record")
    assert refused == ["record"]


async def test_no_rates_means_no_limit(limiter: InProcessRateLimiter) -> None:
    limits = RateLimits(limiter)
    for _ in range(1_000):
        await limits.check("u", "get")
    assert len(limiter) == 0


async def test_concurrent_callers_get_exactly_the_burst(limiter: InProcessRateLimiter) -> None:
    limits = RateLimits(limiter, per_user=Rate(per_second=1, burst=25))
    results = await asyncio.gather(
        *(limits.check("u", "search") for _ in range(100)), return_exceptions=True
    )
    assert sum(r is None for r in results) == 25
    assert all(isinstance(r, RateLimitedError) for r in results if r is not None)


async def test_expired_buckets_are_swept(clock: Clock, limiter: InProcessRateLimiter) -> None:
    rate = Rate(per_second=1000, burst=1)
    for i in range(9_999):
        assert await limiter.acquire([(f"user:{i}", rate)]) == 0
    assert len(limiter) == 9_999
    clock.now += 1
    assert await limiter.acquire([("user:last", rate)]) == 0  # the 10,000th write sweeps
    assert len(limiter) == 1
    await limiter.aclose()
    assert len(limiter) == 0


@pytest.mark.parametrize("now", [0.1, 12_345.678, 1.7e9 + 0.3])
def test_gcra_allows_exactly_on_time_despite_float_rounding(now: float) -> None:
    rate = Rate(per_second=0.001, burst=1)
    tat, wait = gcra(now, now, rate)
    assert wait == 0
    assert gcra(tat, now, rate)[1] == pytest.approx(1_000)
    assert gcra(tat, tat, rate)[1] == 0


async def test_an_unreachable_limiter_fails_open(caplog: pytest.LogCaptureFixture) -> None:
    class Away:
        async def acquire(self, buckets: object) -> float:
            raise StoreUnavailableError("limiter down")

        async def aclose(self) -> None:
            return None

    limits = RateLimits(Away(), per_user=Rate(1, 1))
    await limits.check("u", "search")
    assert "rate limiter unavailable" in caplog.text


async def test_a_broken_limiter_is_not_ignored() -> None:
    class Broken:
        async def acquire(self, buckets: object) -> float:
            raise StoreError("NOSCRIPT or worse")

        async def aclose(self) -> None:
            return None

    with pytest.raises(StoreError):
        await RateLimits(Broken(), per_user=Rate(1, 1)).check("u", "search")
