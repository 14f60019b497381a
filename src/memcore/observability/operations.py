"""One log line, one metric sample and one span per service operation.

:func:`observed` wraps a :class:`~memcore.MemoryService` method. It logs the operation,
backend, user (as :attr:`Telemetry.user_ids` says), record ids, status and latency; the
content of memories only when :attr:`Telemetry.log_content` is on; secrets never (it
logs no settings, and of an error only its type and its content-free message).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar

from memcore.domain import Page, Receipt, Status
from memcore.domain.fields import fields_of
from memcore.domain.records import RECORD_TYPES
from memcore.errors import MemcoreError, NotFoundError, ValidationError
from memcore.observability.metrics import Metrics
from memcore.observability.samples import CountedChild, LatencyChild
from memcore.observability.tracing import tracer
from memcore.ports import MemoryStore

__all__ = ["Telemetry", "UserIdMode", "error_fields", "observed", "user_fields"]

P = ParamSpec("P")
R = TypeVar("R")

UserIdMode = Literal["plain", "hashed", "omitted"]

# Arguments of service methods that carry memory content: the fields the field table
# marks sensitive, and the queries, batches and filters that hold such values.
_CONTENT_ARGS = tuple(
    dict.fromkeys(
        [
            *(
                spec.name
                for record_type in RECORD_TYPES.values()
                for spec in fields_of(record_type)
                if spec.about.sensitive
            ),
            "query",
            "items",
            "filters",
        ]
    )
)
_CLIENT_ERRORS = (ValidationError, NotFoundError)

logger = logging.getLogger("memcore.service")


@dataclass(frozen=True)
class Telemetry:
    """What a service records about its operations."""

    metrics: Metrics | None = None
    user_ids: UserIdMode = "hashed"
    log_content: bool = False


class _Observable(Protocol):
    telemetry: Telemetry
    store: MemoryStore


def user_fields(user_id: object, mode: UserIdMode) -> dict[str, str]:
    """``user_id`` as a log field: ``user_id`` (plain), ``user_hash`` (hashed) or nothing."""
    if not isinstance(user_id, str) or mode == "omitted":
        return {}
    if mode == "plain":
        return {"user_id": user_id}
    return {"user_hash": hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]}


def error_fields(exc: BaseException) -> dict[str, str]:
    """Type and message of ``exc`` fit for logs: memcore messages carry no content."""
    fields = {"error_type": type(exc).__name__}
    if isinstance(exc, MemcoreError):
        fields["error"] = exc.message  # without the user id str() would append
    return fields


def _result_fields(result: object) -> dict[str, Any]:
    if isinstance(result, Receipt):
        return {"record_ids": list(result.ids)}
    if isinstance(result, Page):
        return {"record_ids": [r.id for r in result.items], "more": result.next_cursor is not None}
    if isinstance(result, list):
        records = [getattr(item, "record", item) for item in result]
        return {"record_ids": [getattr(record, "id", "?") for record in records]}
    if isinstance(result, int) and not isinstance(result, bool):
        return {"count": result}
    return {}


def _status(exc: BaseException | None, result: object) -> str:
    """``ok``, ``invalid`` (rejected input), ``error``, or what the result says it is:
    ``deferred`` (a write waits in the outbox), ``degraded`` (a read answered without the
    store, or while writes wait) or ``partial`` (an index still being built).
    """
    if exc is not None:
        return "invalid" if isinstance(exc, _CLIENT_ERRORS) else "error"
    status = getattr(result, "status", None)
    if status is None or status in (Status.STORED, Status.COMPLETE):
        return "ok"
    return str(status.value)


def observed(
    operation: str, *, ids_arg: str | None = None
) -> Callable[
    [Callable[Concatenate[Any, P], Awaitable[R]]],
    Callable[Concatenate[Any, P], Coroutine[Any, Any, R]],
]:
    """Observe a service method called ``operation``; ``ids_arg`` names its record-ids input."""

    def decorate(
        method: Callable[Concatenate[Any, P], Awaitable[R]],
    ) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]:
        signature = inspect.signature(method)
        span_name = f"memcore.{operation}"

        @functools.wraps(method)
        async def wrapper(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
            observable: _Observable = self
            backend = observable.store.backend
            started = time.perf_counter()
            failure: BaseException | None = None
            result: Any = None
            try:
                traced = tracer()
                if traced is None:
                    result = await method(self, *args, **kwargs)
                else:
                    with traced.start_as_current_span(
                        span_name, attributes={"memcore.backend": backend}
                    ):
                        result = await method(self, *args, **kwargs)
            except Exception as exc:
                failure = exc
                raise
            finally:
                seconds = time.perf_counter() - started
                status = _status(failure, result)
                telemetry = observable.telemetry
                metrics = telemetry.metrics
                if metrics is not None:
                    count, latency = _children(metrics, operation, backend, status)
                    count.inc()
                    latency.observe(seconds)
                    if failure is not None:
                        error = type(failure).__name__
                        metrics.errors.labels(operation, backend, error).inc()
                level = logging.ERROR if status == "error" else logging.INFO
                if logger.isEnabledFor(level):
                    call = signature.bind_partial(self, *args, **kwargs).arguments
                    fields: dict[str, Any] = {
                        "operation": operation,
                        "backend": backend,
                        **user_fields(call.get("user_id"), telemetry.user_ids),
                        "status": status,
                        "latency_ms": round(seconds * 1000, 3),
                    }
                    if ids_arg is not None and ids_arg in call:
                        fields["record_ids"] = _ids(call[ids_arg])
                    fields.update(error_fields(failure) if failure else _result_fields(result))
                    if telemetry.log_content:
                        fields["content"] = {
                            name: call[name] for name in _CONTENT_ARGS if name in call
                        }
                    logger.log(level, "%s %s", operation, status, extra=fields)
            return result  # type: ignore[no-any-return]

        return wrapper

    return decorate


def _ids(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value] if isinstance(value, Sequence) else []


@functools.lru_cache(maxsize=1_024)
def _children(
    metrics: Metrics, operation: str, backend: str, status: str
) -> tuple[CountedChild, LatencyChild]:
    """The counter and histogram children of one operation's labels, looked up once."""
    return (
        metrics.operations.labels(operation, backend, status),
        metrics.operation_seconds.labels(operation, backend),
    )
