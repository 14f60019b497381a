"""One retry policy for memcore and its users: exponential backoff with full jitter.

Only errors marked ``retryable`` (:class:`~memcore.errors.StoreUnavailableError`,
:class:`~memcore.errors.StoreTimeoutError`,
:class:`~memcore.errors.EmbeddingUnavailableError`) are retried; anything else, such as
a bad API key, fails at once. Each retry is logged on ``memcore.retry`` and reported to
an optional ``on_retry`` callback (the metrics counter, in the container). Built on
tenacity; ``retry_async`` / ``retry_sync`` are public for applications' own calls::

    @retry_async(RetryConfig(max_attempts=3))
    async def call_the_agent_api() -> str: ...

:class:`RetryPolicy` is the pipeline's retry layer for the store and the embedder, the
one owner of retries: adapters never retry by themselves. Every store operation is safe
to repeat (writes are upserts by id, deletes of missing ids are no-ops, reads have no
effect), so a timed-out write is simply written again. A first attempt that succeeds
costs nothing: tenacity only runs after a retryable failure.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    stop_never,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from memcore.errors import MemcoreError
from memcore.pipeline.call import Call, Handler, InlinePolicy, Port, Result

__all__ = [
    "RetryConfig",
    "RetryListener",
    "RetryPolicy",
    "call_with_retry",
    "is_retryable",
    "retry_async",
    "retry_sync",
]

P = ParamSpec("P")
R = TypeVar("R")

logger = logging.getLogger("memcore.retry")

RetryListener = Callable[[str, BaseException, int, float], None]
"""Called before each retry sleep with ``(name, error, attempt that failed, sleep seconds)``."""


@dataclass(frozen=True)
class RetryConfig:
    """How to retry.

    - ``max_attempts``: attempts in all, the first included (1 disables retrying).
    - ``base_delay`` / ``max_delay``: the wait before retry ``n`` is uniform in
      ``[0, min(max_delay, base_delay * 2**(n-1))]`` seconds (full jitter).
    - ``deadline``: no retry is started if its wait would end later than this many
      seconds after the first attempt began (``None``: attempts alone limit it).
    """

    max_attempts: int = 3
    base_delay: float = 0.05
    max_delay: float = 2.0
    deadline: float | None = 10.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("deadline must be positive")

    def tenacity_kwargs(
        self,
        name: str,
        on_retry: RetryListener | None,
        *,
        attempts: int | None = None,
        seconds: float | None = None,
    ) -> dict[str, Any]:
        """Arguments for ``tenacity.Retrying`` / ``AsyncRetrying`` implementing this policy:
        at most ``attempts`` (default ``max_attempts``), none starting after ``seconds``
        (default ``deadline``).
        """
        seconds = self.deadline if seconds is None else seconds
        stop: stop_base = stop_after_attempt(self.max_attempts if attempts is None else attempts)
        stop = stop | (stop_never if seconds is None else stop_before_delay(seconds))

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            if error is None:
                return
            fields = {"retry_of": name, "attempt": state.attempt_number, "sleep_s": delay}
            fields["error_type"] = type(error).__name__
            logger.warning("retrying %s after %s", name, type(error).__name__, extra=fields)
            if on_retry is not None:
                on_retry(name, error, state.attempt_number, delay)

        return {
            "stop": stop,
            "wait": wait_random_exponential(multiplier=self.base_delay, max=self.max_delay),
            "retry": retry_if_exception(is_retryable),
            "before_sleep": before_sleep,
            "reraise": True,
        }


def is_retryable(error: BaseException) -> bool:
    """True for memcore errors marked transient (``retryable = True``)."""
    return isinstance(error, MemcoreError) and error.retryable


async def call_with_retry(
    call: Callable[[], Awaitable[R]],
    config: RetryConfig,
    *,
    name: str,
    on_retry: RetryListener | None = None,
) -> R:
    """Await ``call()`` (a fresh awaitable per attempt) until it succeeds or ``config`` stops."""
    async for attempt in AsyncRetrying(**config.tenacity_kwargs(name, on_retry)):
        with attempt:
            result = await call()
    return result


def retry_async(
    config: RetryConfig | None = None, *, on_retry: RetryListener | None = None
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Decorate a coroutine function to retry it under ``config`` (defaults if ``None``)."""
    config = config or RetryConfig()

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        name = getattr(fn, "__qualname__", repr(fn))

        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return await call_with_retry(
                lambda: fn(*args, **kwargs), config, name=name, on_retry=on_retry
            )

        return wrapper

    return decorate


def retry_sync(
    config: RetryConfig | None = None, *, on_retry: RetryListener | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The blocking twin of :func:`retry_async`."""
    config = config or RetryConfig()

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        name = getattr(fn, "__qualname__", repr(fn))

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return Retrying(**config.tenacity_kwargs(name, on_retry))(fn, *args, **kwargs)

        return wrapper

    return decorate


class RetryPolicy(InlinePolicy):
    """Retries retryable store and embedder failures under ``config``.

    Retries are named ``<port>.<operation>`` in logs and in ``on_retry``. The call's
    deadline, when it has one, also bounds them: no attempt starts after it.
    """

    name = "retry"

    def __init__(
        self,
        config: RetryConfig | None = None,
        *,
        on_retry: RetryListener | None = None,
        ports: frozenset[Port] = frozenset({"store", "embedder"}),
    ) -> None:
        self.config = config or RetryConfig()
        self.on_retry = on_retry
        self.ports = ports

    def enter(self, call: Call) -> float:
        del call
        return time.monotonic()

    async def fail(
        self, call: Call, token: float, error: BaseException, proceed: Handler
    ) -> Result[Any]:
        if not is_retryable(error) or self.config.max_attempts == 1:
            raise error
        return await self._again(call, proceed, error, token)

    async def _again(
        self, call: Call, proceed: Handler, first: BaseException, started: float
    ) -> Result[Any]:
        """Attempts 2..n after ``first`` failed; tenacity runs only on this slow path.

        Tenacity's own first attempt re-raises ``first`` (it was attempt 1), so its wait,
        logging and stop rules apply from the first retry on.
        """
        config = self.config
        limits = [call.time_left()]
        if config.deadline is not None:
            limits.append(config.deadline - (time.monotonic() - started))
        seconds = min((limit for limit in limits if limit is not None), default=None)
        failed = [first]

        async def attempt() -> Result[Any]:
            if failed:
                raise failed.pop()
            return await proceed(call)

        kwargs = config.tenacity_kwargs(
            f"{call.port}.{call.operation}",
            self.on_retry,
            seconds=None if seconds is None else max(0.0, seconds),
        )
        async for retrying in AsyncRetrying(**kwargs):
            with retrying:
                result = await attempt()
        return result

    def describe(self) -> str:
        deadline = "none" if self.config.deadline is None else f"{self.config.deadline:g} s"
        return f"retry (attempts {self.config.max_attempts}, deadline {deadline})"
