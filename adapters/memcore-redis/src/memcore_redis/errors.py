"""The one place where redis-py exceptions become memcore errors.

Every call to Redis runs inside :func:`map_redis_errors`, so no ``redis.exceptions``
type ever crosses the adapter: callers see the memcore tree (retryable or not) with
the vendor error as ``__cause__``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from redis import exceptions as rex

from memcore.errors import (
    MemcoreError,
    StoreError,
    StoreFullError,
    StoreTimeoutError,
    StoreUnavailableError,
    VectorSearchError,
)

BACKEND = "redis"
_MAX_DETAIL = 200
_PIPELINE_COMMAND = re.compile(r"^Command # \d+ \(.*\) of pipeline caused error: ", re.DOTALL)

# Cluster replies that mean "try again soon" (or "ask the other node"). redis-py's parser
# gives each its own ResponseError subclass, with the reply's first word cut off.
# MovedError is an AskError, MasterDownError a ClusterDownError.
CLUSTER_REDIRECTS = (rex.AskError, rex.TryAgainError, rex.ClusterDownError)


@contextmanager
def map_redis_errors(operation: str, user_id: str | None = None) -> Iterator[None]:
    """Translate whatever redis-py raises in the block into a memcore error.

    Connection trouble, a server still loading its data, a read-only replica after a
    failover, a cluster's redirect or "try again" reply and timeouts are retryable; a bad
    password, a missing permission or a rejected command are not. Search failures become
    :class:`VectorSearchError`; a server out of memory (``maxmemory`` with ``noeviction``)
    :class:`StoreFullError`.
    """
    try:
        yield
    except MemcoreError:
        raise
    except (rex.TimeoutError, TimeoutError) as exc:
        raise StoreTimeoutError(
            f"Redis did not answer in time ({_detail(exc)})", **_context(operation, user_id)
        ) from exc
    except (rex.AuthenticationError, rex.AuthorizationError, rex.NoPermissionError) as exc:
        raise StoreError(
            f"Redis refused the credentials or permission ({_detail(exc)})",
            **_context(operation, user_id),
        ) from exc
    except (rex.ConnectionError, rex.ReadOnlyError, ConnectionError, OSError) as exc:
        # BusyLoadingError is a ConnectionError: the server is loading its dataset.
        raise StoreUnavailableError(
            f"Redis is unavailable ({_detail(exc)})", **_context(operation, user_id)
        ) from exc
    except CLUSTER_REDIRECTS as exc:
        raise StoreUnavailableError(
            f"the Redis cluster asked to retry ({type(exc).__name__}: {_detail(exc)})",
            **_context(operation, user_id),
        ) from exc
    except rex.ResponseError as exc:
        detail = _detail(exc)
        if isinstance(exc, rex.OutOfMemoryError) or detail.startswith("OOM "):
            raise StoreFullError(
                f"Redis is out of memory and refused the write ({detail}); free memory or "
                "raise maxmemory, then write again",
                **_context(operation, user_id),
            ) from exc
        kind = VectorSearchError if operation == "search" else StoreError
        raise kind(
            f"Redis rejected the command ({detail})", **_context(operation, user_id)
        ) from exc
    except rex.RedisError as exc:
        raise StoreError(f"Redis failed ({_detail(exc)})", **_context(operation, user_id)) from exc


def is_missing_index(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause) is RediSearch saying the index does not exist."""
    cause = exc.__cause__ if isinstance(exc, MemcoreError) else exc
    text = str(cause).lower()
    return isinstance(cause, rex.ResponseError) and (
        "unknown index name" in text or "no such index" in text
    )


def _context(operation: str, user_id: str | None) -> dict[str, str | None]:
    return {"operation": operation, "backend": BACKEND, "user_id": user_id}


def _detail(exc: BaseException) -> str:
    # Replies can echo a query; ours hold only encoded tokens, never memory content. But
    # redis-py prefixes a failed pipeline command's reply with the command and its
    # arguments (documents: content), so only the server's reply is kept.
    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, rex.ResponseError) else str(exc)
    return _PIPELINE_COMMAND.sub("", text)[:_MAX_DETAIL]
