"""A write workload through the full resilience stack, and the counts that judge it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from redis.asyncio import Redis

from memcore import MemcoreError, MemoryService, SearchFilter
from memcore.adapters.hashing import HashingEmbedder
from memcore.pipeline import Pipeline
from memcore.resilience import (
    BreakerConfig,
    BreakerPolicy,
    CircuitBreaker,
    DegradationPolicy,
    Outbox,
    RetryConfig,
    RetryPolicy,
)
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.schema import index_info

DIMENSION = 16


@dataclass
class Tally:
    """What one fault did to one workload; zeros where it matters are the point."""

    fault: str
    outcome: str = ""
    injected: int = 0
    retries: int = 0
    acknowledged: int = 0
    deferred: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    present: int = 0
    lost: int = 0
    duplicated: int = 0
    orphan_keys: int = 0
    indexing_failures: int = 0


@dataclass
class Stack:
    """The service the agent uses, and the layers a test looks behind."""

    service: MemoryService
    degrading: DegradationPolicy
    redis: RedisStore
    retries: list[str] = field(default_factory=list)

    async def drain(self, timeout: float = 20.0) -> None:
        """Wait until every deferred write reached the store."""
        deadline = time.monotonic() + timeout
        while self.degrading.backlog:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.degrading.outbox)} writes never replayed")
            await self.degrading.recover()
            await asyncio.sleep(0.05)

    async def aclose(self) -> None:
        await self.service.aclose()


def build_stack(url: str, prefix: str, **redis: object) -> Stack:
    """RedisStore behind degradation, a breaker and retries, as the container orders them."""
    settings = RedisSettings(
        url=url, key_prefix=prefix, socket_timeout=0.5, socket_connect_timeout=0.5, **redis
    )
    store = RedisStore(settings)
    retries: list[str] = []
    retrying = RetryPolicy(
        RetryConfig(max_attempts=3, base_delay=0.02, max_delay=0.1),
        on_retry=lambda _name, error, *_: retries.append(type(error).__name__),
        ports=frozenset({"store"}),
    )
    breaker = CircuitBreaker("store", BreakerConfig(min_calls=5, open_for=0.2))
    degrading = DegradationPolicy(Outbox(), backend=store.backend, replay_interval=0.1)
    policies = [degrading, BreakerPolicy("store", breaker, backend=store.backend), retrying]
    service = MemoryService(store, HashingEmbedder(dimension=DIMENSION), policies=policies)
    return Stack(service=service, degrading=degrading, redis=store, retries=retries)


def describe(stack: Stack, tally: Tally) -> str:
    """What the agent saw, from the counts: errors retried, writes deferred, errors raised."""
    tally.retries = len(stack.retries)
    seen = sorted(set(stack.retries))
    parts = [f"{tally.retries} retries ({', '.join(seen)})" if seen else "no retries"]
    if tally.deferred:
        parts.append(f"{tally.deferred} writes deferred and replayed")
    parts += [f"{n} x {name} raised" for name, n in sorted(tally.errors.items())]
    return "; ".join(parts)


async def write_load(
    stack: Stack,
    tally: Tally,
    *,
    users: int,
    per_user: int,
    pause: float = 0.0,
) -> dict[str, set[str]]:
    """Each user writes ``per_user`` records in order; returns the ids the agent was told
    are stored or deferred, and counts acknowledgements, deferrals and typed errors.
    """
    promised: dict[str, set[str]] = {f"user-{u}": set() for u in range(users)}

    async def writer(user: str) -> None:
        for n in range(per_user):
            record_id = f"r{n}"
            try:
                receipt = await stack.service.record_intervention(
                    user, f"memory {n} of {user}", task="t", id=record_id
                )
            except MemcoreError as exc:
                name = type(exc).__name__
                tally.errors[name] = tally.errors.get(name, 0) + 1
            else:
                promised[user].add(record_id)
                if receipt.deferred:
                    tally.deferred += 1
                else:
                    tally.acknowledged += 1
            await asyncio.sleep(pause)

    await asyncio.gather(*(writer(user) for user in promised))
    return promised


async def verify(stack: Stack, raw: Redis, tally: Tally, promised: dict[str, set[str]]) -> None:
    """Count promised records present, lost, duplicated; orphan keys; indexing failures."""
    await stack.drain()
    tally.outcome = tally.outcome or describe(stack, tally)
    # Read with retries: the last injected fault may have killed pooled connections.
    store = Pipeline([RetryPolicy(RetryConfig(max_attempts=5, base_delay=0.05))]).store(stack.redis)
    for user, ids in promised.items():
        seen: list[str] = []
        cursor = None
        while True:
            page = await store.list(user, SearchFilter(), 1_000, cursor)
            seen += [record.id for record in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        tally.present += len(ids & set(seen))
        tally.lost += len(ids - set(seen))
        tally.duplicated += len(seen) - len(set(seen))
    prefix = stack.redis.settings.key_prefix
    keys = [key async for key in raw.scan_iter(match=f"{prefix}:{{*", count=1_000)]
    info = await index_info(raw, stack.redis.index_name, "verify")
    assert info is not None, "the index is gone"
    tally.orphan_keys = len(keys) - info.num_docs
    tally.indexing_failures = info.indexing_failures
