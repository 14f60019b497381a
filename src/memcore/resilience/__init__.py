"""Resilience policies as port decorators: retries with backoff (see :mod:`.retry`)."""

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
    "RetryConfig",
    "RetryListener",
    "RetryingEmbedder",
    "RetryingStore",
    "call_with_retry",
    "is_retryable",
    "retry_async",
    "retry_sync",
]
