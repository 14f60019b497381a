"""An append-only audit log of data access: who touched whose memories, and how.

:class:`AuditedStore` wraps a store and writes one :class:`AuditEvent` per call, after
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
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol, TypeVar, runtime_checkable

from memcore.domain import MemoryRecord, Page, SearchFilter, SearchHit, utcnow
from memcore.ports import MemoryStore, Vectors
from memcore.resilience.degrade import track_degradation
from memcore.wrapping import StoreWrapper

__all__ = [
    "AuditEvent",
    "AuditSink",
    "AuditedStore",
    "JsonlAuditSink",
    "LoggingAuditSink",
    "acting_as",
]

T = TypeVar("T")

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


class AuditedStore(StoreWrapper):
    """A store whose every data call is written to ``sink``; ``actor`` is the default actor."""

    def __init__(self, inner: MemoryStore, sink: AuditSink, *, actor: str | None = None) -> None:
        super().__init__(inner)
        self.sink = sink
        self.actor = actor

    async def _audited(
        self,
        operation: str,
        user_id: str | None,
        call: Callable[[], Awaitable[T]],
        describe: Callable[[T], tuple[int | None, tuple[str, ...]]],
        asked: tuple[str, ...] = (),
    ) -> T:
        try:
            with track_degradation() as status:
                result = await call()
        except (Exception, asyncio.CancelledError) as exc:
            # A cancelled or failed write may still have landed: it is logged all the same.
            cancelled = isinstance(exc, asyncio.CancelledError)
            outcome = "cancelled" if cancelled else f"error:{type(exc).__name__}"
            await self._write(operation, user_id, outcome, None, asked)
            raise
        count, ids = describe(result)
        outcome = "deferred" if status.deferred else "degraded" if status.degraded else "ok"
        await self._write(operation, user_id, outcome, count, ids)
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

    async def upsert(self, user_id: str, records: Sequence[MemoryRecord], vectors: Vectors) -> None:
        ids = _ids(records)
        await self._audited(
            "upsert",
            user_id,
            lambda: self.inner.upsert(user_id, records, vectors),
            lambda _: (len(ids), ids),
            ids,
        )

    async def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        return await self._audited(
            "get",
            user_id,
            lambda: self.inner.get(user_id, ids),
            lambda found: (len(found), _ids(found)),
            tuple(ids),
        )

    async def get_with_vectors(
        self, user_id: str, ids: Sequence[str]
    ) -> tuple[list[MemoryRecord], Vectors]:
        return await self._audited(
            "export",
            user_id,
            lambda: self.inner.get_with_vectors(user_id, ids),
            lambda found: (len(found[0]), _ids(found[0])),
            tuple(ids),
        )

    async def user_ids(self) -> list[str]:
        return await self._audited(
            "user_ids", None, self.inner.user_ids, lambda ids: (len(ids), ())
        )

    async def delete(self, user_id: str, ids: Sequence[str]) -> int:
        asked = tuple(ids)
        return await self._audited(
            "delete", user_id, lambda: self.inner.delete(user_id, ids), lambda n: (n, asked), asked
        )

    async def search(
        self, user_id: str, vector: Vectors, k: int, filters: SearchFilter
    ) -> list[SearchHit[MemoryRecord]]:
        return await self._audited(
            "search",
            user_id,
            lambda: self.inner.search(user_id, vector, k, filters),
            lambda hits: (len(hits), tuple(hit.record.id for hit in hits)),
        )

    async def list(
        self, user_id: str, filters: SearchFilter, limit: int, cursor: str | None = None
    ) -> Page[MemoryRecord]:
        return await self._audited(
            "list",
            user_id,
            lambda: self.inner.list(user_id, filters, limit, cursor),
            lambda page: (len(page.items), _ids(page.items)),
        )

    async def count(self, user_id: str, filters: SearchFilter) -> int:
        return await self._audited(
            "count", user_id, lambda: self.inner.count(user_id, filters), lambda n: (n, ())
        )

    async def forget_user(self, user_id: str) -> int:
        return await self._audited(
            "forget_user", user_id, lambda: self.inner.forget_user(user_id), lambda n: (n, ())
        )

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            await self.sink.aclose()
