"""An append-only audit log of data access: who touched whose memories, and how.

:class:`AuditPolicy` is the pipeline layer that writes one :class:`AuditEvent` per store call, after
it ends, to an :class:`AuditSink`: the time, the actor (when known), the operation,
the user id, the record ids involved, a count and the result: ``ok``, ``deferred``
(a write waiting in the outbox), ``degraded`` (a read answered without the store),
``cancelled`` or ``error:<type>``. Never content: no texts, metadata, vectors or
queries. Reads (``get``, ``search``, ``list``, ``count``), writes (``upsert``),
deletes, exports (``get_with_vectors``), clears and ``forget_user`` are all covered,
because every one of them is a store call.

The actor is set per task with :func:`acting_as` (``with acting_as("support:jane"):``),
falling back to the store's ``actor``. Sinks: :class:`LoggingAuditSink` (logger
``memcore.audit``), :class:`JsonlAuditSink` (a local file), and ``memcore_redis``'s
stream sink. A sink that fails is reported on ``memcore.audit`` at ERROR and never fails
the data call: memory stays available when the audit trail is not (see
``docs/security.md`` to invert that trade-off with a strict sink).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from memcore.domain import MemoryRecord, Status, utcnow
from memcore.pipeline.call import Call, Handler, Policy, Result

__all__ = [
    "AuditEvent",
    "AuditPolicy",
    "AuditSink",
    "JsonlAuditSink",
    "LoggingAuditSink",
    "acting_as",
]

logger = logging.getLogger("memcore.audit")

_actor: ContextVar[str | None] = ContextVar("memcore_audit_actor", default=None)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Attribute every store call in this block (and tasks it starts) to ``actor``."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


@dataclass(frozen=True)
class AuditEvent:
    """One store call, as the audit trail keeps it (ids and counts, never content)."""

    operation: str
    user_id: str | None
    result: str
    count: int | None = None
    record_ids: tuple[str, ...] = ()
    actor: str | None = None
    backend: str = ""
    time: datetime = field(default_factory=utcnow)

    def to_json(self) -> str:
        """One JSON line (no newline)."""
        data = {**asdict(self), "time": self.time.isoformat(), "record_ids": list(self.record_ids)}
        return json.dumps(data, ensure_ascii=True, separators=(",", ":"))


@runtime_checkable
class AuditSink(Protocol):
    """Where audit events go; ``write`` must append, never rewrite."""

    async def write(self, event: AuditEvent) -> None:
        """Append ``event``; raise if it could not be kept."""
        ...

    async def aclose(self) -> None:
        """Flush and release. Calling it twice is harmless."""
        ...


class LoggingAuditSink:
    """Events as INFO records on ``memcore.audit``, the event under ``extra["audit"]``."""

    async def write(self, event: AuditEvent) -> None:
        logger.info(
            "%s %s", event.operation, event.result, extra={"audit": json.loads(event.to_json())}
        )

    async def aclose(self) -> None:
        return None


class JsonlAuditSink:
    """Events as JSON lines appended to ``path`` (created ``0600``, opened ``O_APPEND``).

    ``fsync="always"`` (default) syncs each event to disk before the call returns:
    an acknowledged call's event survives a power cut. ``"never"`` leaves it to the OS
    (lost on power loss within its flush delay, about 30 s on Linux; a process crash
    loses nothing). Each event is one ``write`` of one line, so lines from concurrent
    writers, even other processes, never interleave.
    """

    def __init__(self, path: Path | str, *, fsync: Literal["always", "never"] = "always") -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fd: int | None = None
        self._lock = asyncio.Lock()

    async def write(self, event: AuditEvent) -> None:
        line = (event.to_json() + "\n").encode("ascii")
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: bytes) -> None:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(self._fd, line)
        if self.fsync == "always":
            os.fsync(self._fd)

    async def aclose(self) -> None:
        async with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _ids(records: Sequence[MemoryRecord]) -> tuple[str, ...]:
    return tuple(record.id for record in records)


def _asked(call: Call) -> tuple[str, ...]:
    """The record ids a call names (upserted, looked up, deleted)."""
    if "records" in call.args:
        return _ids(call.args["records"])
    if "update" in call.args:
        return (call.args["update"].id,)
    return tuple(call.args.get("ids", ()))


def _created(call: Call, found: Any) -> bool:
    """Whether an update that creates a missing record (a first merged duplicate) did:
    it returns the record it was given, seen once (an existing one counted again has
    been seen more). That was a write, logged as ``upsert``.
    """
    create = call.args["update"].create if call.operation == "update" else None
    return create is not None and found == create


Described = tuple[int | None, tuple[str, ...]]

# Per operation: the name in the trail and (count, record ids) from the call and its value.
_EVENTS: dict[str, tuple[str, Callable[[Call, Any], Described]]] = {
    "upsert": ("upsert", lambda call, _: (len(_asked(call)), _asked(call))),
    "update": ("update", lambda call, found: (int(found is not None), _asked(call))),
    "get": ("get", lambda _, found: (len(found), _ids(found))),
    "get_with_vectors": ("export", lambda _, found: (len(found[0]), _ids(found[0]))),
    "user_ids": ("user_ids", lambda _, users: (len(users), ())),
    "delete": ("delete", lambda call, n: (n, _asked(call))),
    "search": ("search", lambda _, hits: (len(hits), tuple(hit.record.id for hit in hits))),
    "list": ("list", lambda _, page: (len(page.items), _ids(page.items))),
    "count": ("count", lambda _, n: (n, ())),
    "forget_user": ("forget_user", lambda _, n: (n, ())),
}
_RESULTS = {Status.DEFERRED: "deferred", Status.DEGRADED: "degraded"}


class AuditPolicy(Policy):
    """The pipeline layer that writes every store call to ``sink``; ``actor`` is the
    default actor. It is the outermost store layer: it sees each call as the application
    made it, and its result as the application got it.
    """

    name = "audit"
    ports = frozenset({"store"})
    operations = frozenset(_EVENTS)

    def __init__(self, sink: AuditSink, *, backend: str, actor: str | None = None) -> None:
        self.sink = sink
        self.backend = backend
        self.actor = actor

    async def __call__(self, call: Call, proceed: Handler) -> Result[Any]:
        operation, describe = _EVENTS[call.operation]
        try:
            result = await proceed(call)
        except (Exception, asyncio.CancelledError) as exc:
            # A cancelled or failed write may still have landed: it is logged all the same.
            cancelled = isinstance(exc, asyncio.CancelledError)
            outcome = "cancelled" if cancelled else f"error:{type(exc).__name__}"
            await self._write(operation, call.user_id, outcome, None, _asked(call))
            raise
        count, ids = describe(call, result.value)
        if _created(call, result.value):
            operation = "upsert"
        outcome = _RESULTS.get(result.status, "ok")
        await self._write(operation, call.user_id, outcome, count, ids)
        return result

    async def _write(
        self,
        operation: str,
        user_id: str | None,
        result: str,
        count: int | None,
        record_ids: tuple[str, ...],
    ) -> None:
        event = AuditEvent(
            operation=operation,
            user_id=user_id,
            result=result,
            count=count,
            record_ids=record_ids,
            actor=_actor.get() or self.actor,
            backend=self.backend,
        )
        try:
            await self.sink.write(event)
        except Exception:
            logger.exception("audit event lost", extra={"operation": operation})

    async def aclose(self) -> None:
        await self.sink.aclose()

    def describe(self) -> str:
        return f"audit (sink {type(self.sink).__name__}, actor {self.actor or 'per call'})"
