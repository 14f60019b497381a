"""Resilience policies as port decorators and helpers.

- :mod:`.retry`: retries with backoff (:class:`RetryingStore`, :class:`RetryingEmbedder`).
- :mod:`.breaker`: circuit breakers (:class:`BreakerStore`, :class:`BreakerEmbedder`).
- :mod:`.degrade`, :mod:`.outbox`: deferred writes and degraded reads while the store is
  away (:class:`DegradingStore`, :class:`Outbox`, :func:`track_degradation`).
- :mod:`.ratelimit`: per-user and global rate limits (:class:`RateLimits`).
"""

from memcore.resilience.breaker import (
    BreakerConfig,
    BreakerEmbedder,
    BreakerState,
    BreakerStore,
    CircuitBreaker,
)
from memcore.resilience.degrade import (
    DegradationStatus,
    DegradingStore,
    track_degradation,
)
from memcore.resilience.outbox import Outbox
from memcore.resilience.ratelimit import InProcessRateLimiter, Rate, RateLimiter, RateLimits
from memcore.resilience.retry import (
    RetryConfig,
    RetryListener,
    call_with_retry,
    is_retryable,
    retry_async,
    retry_sync,
)
from memcore.resilience.wrappers import RetryingEmbedder, RetryingStore

__all__ = [
    "BreakerConfig",
    "BreakerEmbedder",
    "BreakerState",
    "BreakerStore",
    "CircuitBreaker",
    "DegradationStatus",
    "DegradingStore",
    "InProcessRateLimiter",
    "Outbox",
    "Rate",
    "RateLimiter",
    "RateLimits",
    "RetryConfig",
    "RetryListener",
    "RetryingEmbedder",
    "RetryingStore",
    "call_with_retry",
    "is_retryable",
    "retry_async",
    "retry_sync",
    "track_degradation",
]
