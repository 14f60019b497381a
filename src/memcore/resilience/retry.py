"""One retry policy for memcore and its users: exponential backoff with full jitter.

Only errors marked ``retryable`` (:class:`~memcore.errors.StoreUnavailableError`,
:class:`~memcore.errors.StoreTimeoutError`,
:class:`~memcore.errors.EmbeddingUnavailableError`) are retried; anything else, such as
a bad API key, fails at once. Each retry is logged on ``memcore.retry`` and reported to
an optional ``on_retry`` callback (the metrics counter, in the container). Built on
tenacity; ``retry_async`` / ``retry_sync`` are public for applications' own calls::

    @retry_async(RetryConfig(max_attempts=3))
    async def call_the_agent_api() -> str: ...
"""

from __future__ import annotations

import functools
import logging
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

__all__ = [
    "RetryConfig",
    "RetryListener",
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

    def tenacity_kwargs(self, name: str, on_retry: RetryListener | None) -> dict[str, Any]:
        """Arguments for ``tenacity.Retrying`` / ``AsyncRetrying`` implementing this policy."""
        stop: stop_base = stop_after_attempt(self.max_attempts)
        stop = stop | (stop_never if self.deadline is None else stop_before_delay(self.deadline))

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
