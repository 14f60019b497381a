"""Resilience policies of the pipeline, and helpers.

- :mod:`.retry`: retries with backoff (:class:`RetryPolicy`, :func:`retry_async`).
- :mod:`.breaker`: circuit breakers (:class:`BreakerPolicy`).
- :mod:`.degrade`, :mod:`.outbox`, :mod:`.journal`: deferred writes and degraded reads
  while the store is away (:class:`DegradationPolicy`, :class:`Outbox`).
- :mod:`.ratelimit`: per-user and global rate limits (:class:`RateLimitPolicy`).
"""

from memcore.resilience.breaker import BreakerConfig, BreakerPolicy, BreakerState, CircuitBreaker
from memcore.resilience.degrade import DegradationPolicy
from memcore.resilience.outbox import Outbox
from memcore.resilience.ratelimit import (
    InProcessRateLimiter,
    Rate,
    RateLimiter,
    RateLimitPolicy,
    RateLimits,
)
from memcore.resilience.retry import (
    RetryConfig,
    RetryListener,
    RetryPolicy,
    call_with_retry,
    is_retryable,
    retry_async,
    retry_sync,
)

__all__ = [
    "BreakerConfig",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "DegradationPolicy",
    "InProcessRateLimiter",
    "Outbox",
    "Rate",
    "RateLimitPolicy",
    "RateLimiter",
    "RateLimits",
    "RetryConfig",
    "RetryListener",
    "RetryPolicy",
    "call_with_retry",
    "is_retryable",
    "retry_async",
    "retry_sync",
]
