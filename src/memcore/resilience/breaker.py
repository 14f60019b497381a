"""A circuit breaker: stop calling a backend that keeps failing, probe it, resume.

The breaker judges the **failure rate** over a sliding time window (``window`` seconds,
counted in ``buckets`` slices so memory stays constant under any load) once at least
``min_calls`` calls ended in it. At ``failure_rate`` or worse it **opens**: every call
fails at once with a retryable :class:`~memcore.errors.CircuitOpenError` subclass
carrying ``retry_after``, so the agent gets an answer in microseconds instead of a
timeout. After ``open_for`` seconds it is **half-open**: ``probes`` calls go through;
a success **closes** it (with a fresh window), a failure opens it again.

Only errors marked ``retryable`` (unavailable, timeout) count as failures: a validation
error or a rejected query says the backend is up. A cancelled call counts as nothing.

:class:`BreakerPolicy` puts one breaker in front of a port's calls in the pipeline.
It sits outside the retry layer, so one failure is a call that failed after its
retries, and inside degradation, so an open breaker defers writes at once.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, ClassVar, TypeVar

from memcore.domain import HealthCheck, HealthStatus
from memcore.errors import CircuitOpenError, EmbedderCircuitOpenError, StoreCircuitOpenError
from memcore.pipeline.call import Call, Handler, InlinePolicy, Port, Result
from memcore.resilience.retry import is_retryable

__all__ = [
    "BreakerConfig",
    "BreakerListener",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
]

T = TypeVar("T")

logger = logging.getLogger("memcore.breaker")


class BreakerState(str, Enum):
    """Where a breaker is; ``value`` is the metric label, ``code`` the gauge value."""

    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"

    @property
    def code(self) -> int:
        """0 closed, 1 half-open, 2 open: worse is higher, as for health."""
        return list(BreakerState).index(self)


BreakerListener = Callable[[str, BreakerState], None]
"""Called with ``(breaker name, new state)`` on every state change (e.g. a metrics gauge)."""


@dataclass(frozen=True)
class BreakerConfig:
    """When to open and for how long (seconds); see the module docstring."""

    failure_rate: float = 0.5
    min_calls: int = 10
    window: float = 30.0
    buckets: int = 10
    open_for: float = 5.0
    probes: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.failure_rate <= 1:
            raise ValueError("failure_rate must be in (0, 1]")
        if self.min_calls < 1 or self.buckets < 1 or self.probes < 1:
            raise ValueError("min_calls, buckets and probes must be at least 1")
        if self.window <= 0 or self.open_for <= 0:
            raise ValueError("window and open_for must be positive")


class CircuitBreaker:
    """One breaker; safe for concurrent tasks of one event loop (it never awaits inside)."""

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        on_change: BreakerListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self.on_change = on_change
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._probing = 0
        # bucket number -> [calls, failures]; at most config.buckets entries are kept.
        self._buckets: dict[int, list[int]] = {}

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose time is up reads as half-open)."""
        if self._state is BreakerState.OPEN and self.retry_after() == 0:
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def retry_after(self) -> float:
        """Seconds until an open breaker lets a probe through; 0 when not open."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.config.open_for - self._clock())

    def failure_rate(self) -> tuple[int, float]:
        """``(calls, failure rate)`` over the current window."""
        self._prune()
        calls = sum(bucket[0] for bucket in self._buckets.values())
        failures = sum(bucket[1] for bucket in self._buckets.values())
        return calls, (failures / calls if calls else 0.0)

    async def call(
        self, call: Callable[[], Awaitable[T]], refuse: Callable[[float], CircuitOpenError]
    ) -> T:
        """Await ``call()`` if the breaker allows, else raise ``refuse(retry_after)``."""
        probe = self.admit()
        if probe is None:
            raise refuse(self.retry_after())
        try:
            result = await call()
        except BaseException as exc:
            self.judge(probe, exc)
            raise
        self.judge(probe)
        return result

    def admit(self) -> bool | None:
        """Let one call through: ``False``, or ``True`` as a probe; ``None``: refused (open,
        or half-open with its probes out). Each admitted call must then be judged (:meth:`judge`).
        """
        if self._state is BreakerState.CLOSED:  # the common case, without a clock read
            return False
        state = self.state
        if state is BreakerState.OPEN or self._probing >= self.config.probes:
            return None
        self._probing += 1
        return True

    def judge(self, probe: bool, error: BaseException | None = None) -> None:
        """Count an admitted call that ended: a success without ``error``, a failure with a
        retryable one; a cancelled call counts as nothing.
        """
        if probe:
            self._probing -= 1
            if error is None or isinstance(error, Exception):
                self._probed(failed=error is not None and is_retryable(error))
        elif self._state is not BreakerState.CLOSED:
            return  # a call that started before the breaker opened: already judged
        elif error is None:
            self._slice()[0] += 1
        elif isinstance(error, Exception):
            self._counted_failure(failed=is_retryable(error))

    def _probed(self, *, failed: bool) -> None:
        if failed:
            self._open()
        elif self._state is BreakerState.HALF_OPEN:
            self._buckets.clear()
            self._set(BreakerState.CLOSED)

    def _slice(self) -> list[int]:
        """The current slice's ``[calls, failures]`` (a new slice drops the expired ones)."""
        key = self._bucket()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._prune()
            bucket = self._buckets[key] = [0, 0]
        return bucket

    def _counted_failure(self, *, failed: bool) -> None:
        """A call of the closed breaker that raised; it opens at the failure rate."""
        bucket = self._slice()
        bucket[0] += 1
        if not failed:
            return
        bucket[1] += 1
        calls, rate = self.failure_rate()
        if calls >= self.config.min_calls and rate >= self.config.failure_rate:
            self._open()

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        if state is self._state:
            return
        self._state = state
        log = logger.warning if state is BreakerState.OPEN else logger.info
        log("circuit %s %s", self.name, state.value, extra={"breaker": self.name})
        if self.on_change is not None:
            self.on_change(self.name, state)

    def _bucket(self) -> int:
        return math.floor(self._clock() * self.config.buckets / self.config.window)

    def _prune(self) -> None:
        oldest = self._bucket() - self.config.buckets + 1
        for key in [key for key in self._buckets if key < oldest]:
            del self._buckets[key]


def _breaker_check(check: HealthCheck, breaker: CircuitBreaker) -> HealthCheck:
    """``check`` with the breaker's state as a fact, degraded while it is not closed."""
    state = breaker.state
    facts = {**check.facts, "breaker": state.value}
    if state is BreakerState.CLOSED or check.status is HealthStatus.UNHEALTHY:
        return replace(check, facts=facts)
    detail = f"circuit {state.value}; {check.detail}".rstrip("; ")
    return replace(check, status=HealthStatus.DEGRADED, detail=detail, facts=facts)


class BreakerPolicy(InlinePolicy):
    """One breaker in front of one port's calls; refusals are that port's
    :class:`~memcore.errors.CircuitOpenError` (store or embedder), and the port's health
    shows the breaker's state.
    """

    name = "breaker"
    _REFUSALS: ClassVar[Mapping[Port, type[CircuitOpenError]]] = {
        "store": StoreCircuitOpenError,
        "embedder": EmbedderCircuitOpenError,
    }

    def __init__(self, port: Port, breaker: CircuitBreaker, *, backend: str) -> None:
        self.ports = frozenset({port})
        self.breaker = breaker
        self.backend = backend
        self._refusal = self._REFUSALS[port]

    def enter(self, call: Call) -> bool:
        probe = self.breaker.admit()
        if probe is None:
            raise self._refusal(
                f"{call.port} circuit open",
                retry_after=self.breaker.retry_after(),
                operation=call.operation,
                backend=self.backend,
            )
        return probe

    def exit(self, call: Call, token: bool, result: Result[Any]) -> Result[Any]:
        del call
        self.breaker.judge(token)
        return result

    async def fail(
        self,
        call: Call,
        token: bool,
        error: BaseException,
        proceed: Handler,
    ) -> Result[Any]:
        del call, proceed
        self.breaker.judge(token, error)
        raise error

    def health(self, port: Port, check: HealthCheck) -> HealthCheck:
        del port
        return _breaker_check(check, self.breaker)

    def describe(self) -> str:
        config = self.breaker.config
        return (
            f"breaker {self.breaker.name} (opens at {config.failure_rate:.0%} of "
            f"{config.min_calls}+ calls in {config.window:g} s, open {config.open_for:g} s)"
        )
