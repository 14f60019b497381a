"""The shared rate limiter: GCRA in one Lua script, on the real server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from memcore import Outcome, RateLimitedError
from memcore.container import build_service
from memcore.resilience import Rate, RateLimiter, RateLimitPolicy, RateLimits
from memcore.settings import load_settings
from memcore_redis import RedisSettings
from memcore_redis.client import new_client
from memcore_redis.commands import call
from memcore_redis.ratelimit import RedisRateLimiter


@pytest.fixture
async def limiter(redis_server_url: str) -> AsyncIterator[RedisRateLimiter]:
    settings = RedisSettings(url=redis_server_url, key_prefix=f"rl{uuid.uuid4().hex[:8]}")
    limiter = RedisRateLimiter(new_client(settings), key_prefix=settings.key_prefix)
    yield limiter
    await limiter.aclose()


def test_it_is_a_rate_limiter(limiter: RedisRateLimiter) -> None:
    assert isinstance(limiter, RateLimiter)


async def test_burst_then_refusal_with_retry_after(limiter: RedisRateLimiter) -> None:
    rate = Rate(per_second=2, burst=3)
    assert [await limiter.acquire([("user:a", rate)]) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = await limiter.acquire([("user:a", rate)])
    assert 0.4 < wait <= 0.5


async def test_a_refusal_takes_nothing(limiter: RedisRateLimiter) -> None:
    loose, tight = Rate(100, burst=2), Rate(0.01, burst=1)
    assert await limiter.acquire([("a", loose), ("b", tight)]) == 0
    assert await limiter.acquire([("a", loose), ("b", tight)]) > 0
    assert await limiter.acquire([("a", loose)]) == 0  # "a" still had one token left
    assert await limiter.acquire([("a", loose)]) > 0


async def test_processes_share_buckets_and_users_never_share(
    limiter: RedisRateLimiter, redis_server_url: str
) -> None:
    other_process = RedisRateLimiter(
        new_client(RedisSettings(url=redis_server_url)), key_prefix=limiter.key_prefix
    )
    mine = RateLimits(limiter, per_user=Rate(0.01, burst=2))
    theirs = RateLimits(other_process, per_user=Rate(0.01, burst=2))
    await mine.check("alice", "search")
    await theirs.check("alice", "search")
    with pytest.raises(RateLimitedError):
        await mine.check("alice", "search")
    for user in ("bob", "alice ", "alic", "user:alice", "global"):
        await theirs.check(user, "search")
        await mine.check(user, "search")
    await other_process.aclose()


async def test_concurrent_callers_get_exactly_the_burst(limiter: RedisRateLimiter) -> None:
    rate = Rate(per_second=0.01, burst=25)
    waits = await asyncio.gather(*(limiter.acquire([("user:x", rate)]) for _ in range(100)))
    assert sum(wait == 0 for wait in waits) == 25


async def test_idle_buckets_expire(limiter: RedisRateLimiter, raw_redis: aioredis.Redis) -> None:
    await limiter.acquire([("user:e", Rate(per_second=10, burst=5))])
    ttl = await raw_redis.pttl(f"{limiter.key_prefix}:rl:user:e")
    assert 0 < ttl <= 102


async def test_built_from_settings(redis_server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCORE_REDIS_URL", redis_server_url)
    limiter = RedisRateLimiter.from_settings(load_settings())
    assert await limiter.acquire([("user:s", Rate(1, 1))]) == 0
    await limiter.aclose()


async def test_the_container_wires_redis_limits_and_audit(
    redis_server_url: str, raw_redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"w{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MEMCORE_REDIS_URL", redis_server_url)
    monkeypatch.setenv("MEMCORE_REDIS_KEY_PREFIX", prefix)
    memory = await build_service(
        store="redis",
        rate_limit={"per_user": 0.01, "per_user_burst": 1, "backend": "redis"},
        audit={"enabled": True, "sink": "redis"},
    )
    policy = memory.pipeline.find(RateLimitPolicy)
    assert policy is not None
    assert isinstance(policy.limits.limiter, RedisRateLimiter)
    await memory.stats("u")
    with pytest.raises(RateLimitedError):
        await memory.stats("u")
    await memory.aclose()
    # One stats call went through: a count per kind and per outcome, each audited.
    assert await raw_redis.xlen(f"{prefix}:audit") == 2 + len(Outcome)
    await call(raw_redis, "FT.DROPINDEX", f"{prefix}-idx", "DD")
    await raw_redis.delete(f"{prefix}:audit", f"{prefix}:meta", f"{prefix}:epoch")
