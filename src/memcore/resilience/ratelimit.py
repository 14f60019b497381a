"""Rate limits per user and global, with GCRA (the generic cell rate algorithm).

GCRA is a token bucket kept as one number per key, the *theoretical arrival time*
(TAT): a call is allowed when, after adding one interval, the TAT is at most ``burst``
intervals ahead of now. It is exact, needs no refill timer, and one key costs one float
(in-process) or one short-lived string key (Redis, where ``memcore_redis`` runs the same
arithmetic in one atomic Lua script).

:class:`RateLimits` is the rule, :class:`RateLimitPolicy` the pipeline layer that applies
it to every service operation, before anything is embedded or stored: each call takes one token from
the user's bucket and one from the global bucket, both or neither, and a refusal raises
:class:`~memcore.errors.RateLimitedError` with ``retry_after``. Buckets are keyed by the
exact user id, so one user's traffic never uses another user's tokens. A shared limiter
that cannot be reached (a retryable error) lets calls through, with a warning: limits
protect the backend, they must not take the agent down with them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from memcore.errors import MemcoreError, RateLimitedError
from memcore.pipeline.call import Call, Handler, Policy, Result

__all__ = [
    "GLOBAL_KEY",
    "InProcessRateLimiter",
    "Rate",
    "RateLimitPolicy",
    "RateLimiter",
    "RateLimits",
]

GLOBAL_KEY = "global"
"""The global bucket's key; user buckets are ``user:<user id>``, so none can share it."""

logger = logging.getLogger("memcore.ratelimit")

_SWEEP_EVERY = 10_000  # keys written between sweeps of expired buckets
_TOLERANCE = 1e-9  # seconds: float rounding must not refuse a call exactly on time


@dataclass(frozen=True)
class Rate:
    """``per_second`` calls sustained, up to ``burst`` at once after a quiet spell."""

    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.per_second <= 0:
            raise ValueError("per_second must be positive")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")

    @property
    def interval(self) -> float:
        """Seconds one token takes to come back."""
        return 1.0 / self.per_second


def gcra(tat: float, now: float, rate: Rate) -> tuple[float, float]:
    """One GCRA step: return ``(new TAT, 0.0)`` if allowed, else ``(tat, seconds to wait)``."""
    new_tat = max(tat, now) + rate.interval
    allowed_at = new_tat - rate.burst * rate.interval
    if allowed_at - now > _TOLERANCE:
        return tat, allowed_at - now
    return new_tat, 0.0


@runtime_checkable
class RateLimiter(Protocol):
    """Where bucket state lives: in this process, or shared (Redis) by many."""

    async def acquire(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        """Take one token from every ``(key, rate)`` bucket, all or none, atomically.

        Returns ``0.0`` when taken, else the seconds until every bucket would allow it
        (nothing is taken then).
        """
        ...

    async def aclose(self) -> None:
        """Release connections. Calling it twice is harmless."""
        ...


class InProcessRateLimiter:
    """Buckets in a dict, for one process; expired buckets are swept as keys accrue."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tats: dict[str, float] = {}
        self._writes = 0

    async def acquire(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        # No await between reading and writing the TATs: atomic within the event loop.
        now = self._clock()
        steps = [gcra(self._tats.get(key, now), now, rate) for key, rate in buckets]
        wait = max((wait for _, wait in steps), default=0.0)
        if wait > 0:
            return wait
        for (key, _), (tat, _) in zip(buckets, steps, strict=True):
            self._tats[key] = tat
        self._writes += len(buckets)
        if self._writes >= _SWEEP_EVERY:
            self._writes = 0
            # A TAT in the past is the same as no bucket at all: forget it.
            self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
        return 0.0

    def __len__(self) -> int:
        """Buckets currently remembered (expired ones until the next sweep)."""
        return len(self._tats)

    async def aclose(self) -> None:
        self._tats.clear()


@dataclass
class RateLimits:
    """The service's policy: ``per_user`` and ``overall`` rates (``None``: unlimited).

    ``on_limited(operation)`` is told of each refusal (the metrics counter).
    """

    limiter: RateLimiter
    per_user: Rate | None = None
    overall: Rate | None = None
    on_limited: Callable[[str], None] | None = None

    async def check(self, user_id: str, operation: str) -> None:
        """Take one token for ``user_id``'s ``operation`` or raise RateLimitedError."""
        buckets = [
            (key, rate)
            for key, rate in ((f"user:{user_id}", self.per_user), (GLOBAL_KEY, self.overall))
            if rate is not None
        ]
        if not buckets:
            return
        try:
            wait = await self.limiter.acquire(buckets)
        except MemcoreError as exc:
            if not exc.retryable:
                raise
            # Fail open: a shared limiter that is away must not silence the agent.
            logger.warning("rate limiter unavailable; call allowed", extra={"operation": operation})
            return
        if wait <= 0:
            return
        if self.on_limited is not None:
            self.on_limited(operation)
        raise RateLimitedError(
            "rate limit exceeded", retry_after=wait, operation=operation, user_id=user_id
        )

    async def aclose(self) -> None:
        """Close the limiter."""
        await self.limiter.aclose()


class RateLimitPolicy(Policy):
    """Takes a token of the caller's and the global bucket before each service operation."""

    name = "rate-limit"
    ports = frozenset({"service"})

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits

    async def __call__(self, call: Call, proceed: Handler) -> Result[Any]:
        await self.limits.check(call.user_id or "", call.operation)
        return await proceed(call)

    async def aclose(self) -> None:
        await self.limits.aclose()

    def describe(self) -> str:
        rates = {"per user": self.limits.per_user, "overall": self.limits.overall}
        shown = ", ".join(
            f"{name} {rate.per_second:g}/s burst {rate.burst}"
            for name, rate in rates.items()
            if rate is not None
        )
        return f"rate-limit ({shown}; {type(self.limits.limiter).__name__})"
