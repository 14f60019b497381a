"""The memcore error tree, keyed to what the caller does next.

::

    MemcoreError                      anything raised by memcore
    ├── ValidationError               bad input; nothing was stored. Fix the input.
    ├── ConfigurationError            bad or missing setting. Fix the configuration.
    │   └── AdapterNotFoundError      backend name unknown or its package missing; install it.
    ├── NotFoundError                 the record does not exist (for this user).
    ├── ConflictError                 the record changed while an update was made; retry it.
    ├── UnhealthyError                the start-up health check found a component unhealthy.
    ├── RateLimitedError              too many calls; wait ``retry_after`` seconds, then retry.
    ├── DecryptionError               a stored ciphertext cannot be decrypted (wrong place,
    │                                 tampered, or its key retired or erased).
    ├── CircuitOpenError              the circuit breaker fails fast; retry after ``retry_after``.
    ├── SchemaMismatchError           embedder dimension/model differs from the store's schema;
    │                                 re-embed into a new index (see docs/concepts.md).
    ├── EmbeddingError                the embedder failed; not retryable (bad key, bad model...).
    │   └── EmbeddingUnavailableError retryable: the embedding service is down or slow.
    │       └── EmbedderCircuitOpenError  (also a CircuitOpenError) the embedder's breaker is open.
    └── StoreError                    the store failed; not retryable as such.
        ├── StoreUnavailableError     retryable: connection refused/reset, server loading.
        │   ├── StoreTimeoutError     retryable: the store did not answer in time.
        │   ├── StoreCircuitOpenError (also a CircuitOpenError) the store's breaker is open.
        │   └── OutcomeUnknownError   retryable: a write may or may not have landed; retry
        │                             with its ``record_ids`` (idempotent by id).
        ├── StoreFullError            the store is out of memory and refuses writes; free
        │                             memory or raise its limit. Not retried.
        ├── DataLossError             the store lost data it had acknowledged; stop, restore.
        ├── IndexCreationError        the search index could not be created.
        └── VectorSearchError         the store rejected or failed a vector search.

Every error carries the ``operation``, ``backend`` and ``user_id`` it happened in (any of
them may be ``None``) and, when it wraps a vendor error, the cause as ``__cause__``
(adapters always ``raise ... from exc``). ``retryable`` is ``True`` only for transient
errors; retry policies retry those and nothing else. Messages never contain memory content
or secrets.
"""

from __future__ import annotations

__all__ = [
    "AdapterNotFoundError",
    "CircuitOpenError",
    "ConfigurationError",
    "ConflictError",
    "DataLossError",
    "DecryptionError",
    "EmbedderCircuitOpenError",
    "EmbeddingError",
    "EmbeddingUnavailableError",
    "IndexCreationError",
    "MemcoreError",
    "NotFoundError",
    "OutcomeUnknownError",
    "RateLimitedError",
    "SchemaMismatchError",
    "StoreCircuitOpenError",
    "StoreError",
    "StoreFullError",
    "StoreTimeoutError",
    "StoreUnavailableError",
    "UnhealthyError",
    "ValidationError",
    "VectorSearchError",
]


class MemcoreError(Exception):
    """Root of every error memcore raises."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        backend: str | None = None,
        user_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.backend = backend
        self.user_id = user_id

    def __str__(self) -> str:
        where = ", ".join(
            f"{name}={value!r}"
            for name, value in (
                ("operation", self.operation),
                ("backend", self.backend),
                ("user_id", self.user_id),
            )
            if value is not None
        )
        return f"{self.message} ({where})" if where else self.message


class ValidationError(MemcoreError, ValueError):
    """An input broke a rule in :mod:`memcore.validation`; nothing was stored.

    ``field`` names the offending input (``"user_id"``, ``"metadata.lang"``,
    ``"items[2].task"``...) and ``reason`` says what is wrong with it.
    """

    def __init__(self, field: str, message: str, **context: str | None) -> None:
        super().__init__(f"{field}: {message}", **context)
        self.field = field
        self.reason = message


class ConfigurationError(MemcoreError):
    """A setting is invalid or missing. ``setting`` names it (e.g. ``MEMCORE_STORE``)."""

    def __init__(self, message: str, *, setting: str | None = None, **context: str | None) -> None:
        if setting and setting not in message:
            message = f"{message} (setting {setting})"
        super().__init__(message, **context)
        self.setting = setting


class AdapterNotFoundError(ConfigurationError):
    """No backend is registered under that name, or its package is not installed."""


class NotFoundError(MemcoreError):
    """The requested record does not exist for this user."""


class ConflictError(MemcoreError):
    """The record changed between the read and the write of an update; nothing was
    written. The service retries a few times before raising it; then retry the update.
    """


class UnhealthyError(MemcoreError):
    """The health check run at start-up found unhealthy ``components`` (fail-fast mode)."""

    def __init__(self, message: str, *, components: tuple[str, ...], **context: str | None) -> None:
        super().__init__(message, **context)
        self.components = components


class RateLimitedError(MemcoreError):
    """A per-user or global rate limit refused the call; nothing was done.

    ``retry_after`` is how many seconds to wait before the same call would be allowed.
    Not ``retryable``: the retry layer would only spin; the caller decides to wait.
    """

    def __init__(self, message: str, *, retry_after: float, **context: str | None) -> None:
        super().__init__(f"{message}; retry after {retry_after:.3f}s", **context)
        self.retry_after = retry_after


class DecryptionError(MemcoreError):
    """A stored ciphertext failed to decrypt: moved to another user, record or field,
    tampered with, or its key is retired or erased (crypto-shredding). Not retryable.
    """


class CircuitOpenError(MemcoreError):
    """A circuit breaker is open and fails fast; ``retry_after`` seconds until it probes."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float, **context: str | None) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after


class SchemaMismatchError(MemcoreError):
    """The embedder does not match the schema the store was created with.

    ``expected`` is what the store holds, ``actual`` what the embedder offers.
    """

    def __init__(self, message: str, *, expected: str, actual: str, **context: str | None) -> None:
        super().__init__(f"{message}: store has {expected}, embedder gives {actual}", **context)
        self.expected = expected
        self.actual = actual


class EmbeddingError(MemcoreError):
    """The embedder failed in a way retrying will not fix (bad key, unknown model, bad reply)."""


class EmbeddingUnavailableError(EmbeddingError):
    """The embedding service is unreachable, overloaded or too slow; retry later."""

    retryable = True


class EmbedderCircuitOpenError(CircuitOpenError, EmbeddingUnavailableError):
    """The embedder's circuit breaker is open: recent calls failed too often."""


class StoreError(MemcoreError):
    """The store failed in a way retrying will not fix."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached right now (refused, reset, loading); retry later."""

    retryable = True


class StoreTimeoutError(StoreUnavailableError):
    """The store did not answer in time; the operation may or may not have happened."""


class StoreCircuitOpenError(CircuitOpenError, StoreUnavailableError):
    """The store's circuit breaker is open: recent calls failed too often."""


class OutcomeUnknownError(StoreUnavailableError):
    """A write was sent but its answer never came (a timeout, a connection lost mid-way):
    it may or may not have landed. ``record_ids`` are the ids it wrote; writing the same
    records again with those ids is idempotent, so retrying ends with one copy each.
    """

    def __init__(
        self, message: str, *, record_ids: tuple[str, ...] = (), **context: str | None
    ) -> None:
        super().__init__(message, **context)
        self.record_ids = record_ids


class StoreFullError(StoreError):
    """The store is out of memory (Redis ``maxmemory`` with ``noeviction``) and refused
    the write; nothing was written. Not retried: free memory, delete old records or raise
    the limit, then write again.
    """


class DataLossError(StoreError):
    """The store came back without data it had acknowledged (restarted without
    persistence, keys evicted or deleted underneath). Not retryable: stop writing,
    restore or re-import, then restart.
    """


class IndexCreationError(StoreError):
    """The store could not create its search index."""


class VectorSearchError(StoreError):
    """The store rejected or failed a vector search."""
