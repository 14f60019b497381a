"""Graceful degradation: keep the agent talking while its memory store is away.

:class:`DegradingStore` wraps a store. With policy ``"degrade"`` (the default):

- a **write** (``upsert``, ``delete``, ``forget_user``) that fails with a retryable
  store error goes to the :class:`~memcore.resilience.outbox.Outbox` and returns
  normally, *deferred* (deletes then report 0 removed);
- a **read** that fails so returns an empty result, *degraded*, instead of raising;
- while the outbox holds anything, each call first tries to replay it (at most once
  per ``replay_interval`` seconds), and writes queue behind it, so one task's writes
  reach the store in the order it made them. A background task also replays every
  ``replay_interval`` until the outbox is empty;
- ``ensure_schema`` failing retryably at start-up is retried before the next replay.

With policy ``"raise"`` every error propagates as if the layer were not there.

Callers learn what happened through :func:`track_degradation`, a per-task collector::

    with track_degradation() as status:
        await service.record_intervention(...)
    if status.deferred: ...   # in the outbox, not yet in the store
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

import numpy as np

from memcore.domain import (
    EmbeddingSchema,
    HealthCheck,
    HealthStatus,
    MemoryRecord,
    Page,
    SearchFilter,
    SearchHit,
)
from memcore.errors import MemcoreError, StoreError, StoreUnavailableError
from memcore.ports import MemoryStore, Vectors
from memcore.resilience.outbox import Outbox, WriteOperation
from memcore.resilience.retry import is_retryable
from memcore.wrapping import StoreWrapper

__all__ = [
    "DegradationPolicy",
    "DegradationStatus",
    "DegradingStore",
    "note_degraded",
    "track_degradation",
]

T = TypeVar("T")

DegradationPolicy = Literal["degrade", "raise"]

logger = logging.getLogger("memcore.degrade")


@dataclass
class DegradationStatus:
    """What the store layer did instead of failing, during one :func:`track_degradation`."""

    deferred: int = 0
    """Writes put in the outbox (not in the store yet; they will be replayed)."""
    degraded: bool = False
    """A read answered empty or possibly incomplete because the store was unavailable."""


_trackers: ContextVar[tuple[DegradationStatus, ...]] = ContextVar("memcore_degradation", default=())


@contextlib.contextmanager
def track_degradation() -> Iterator[DegradationStatus]:
    """Collect, for the calls made in this block, whether any write was deferred or read
    degraded. Tasks started inside report into the same status; blocks may nest (the
    audit layer tracks each call inside the caller's block), and every open one hears.
    """
    status = DegradationStatus()
    token = _trackers.set((*_trackers.get(), status))
    try:
        yield status
    finally:
        _trackers.reset(token)


def note_degraded() -> None:
    """Tell every open :func:`track_degradation` block that a read answered without data."""
    _note()


def _note(*, deferred: bool = False) -> None:
    for status in _trackers.get():
        if deferred:
            status.deferred += 1
        else:
            status.degraded = True


def _unavailable(exc: BaseException) -> bool:
    return isinstance(exc, StoreError) and is_retryable(exc)


class DegradingStore(StoreWrapper):
    """A store that defers writes and degrades reads while ``inner`` is unavailable."""

    def __init__(
        self,
        inner: MemoryStore,
        outbox: Outbox | None = None,
        *,
        policy: DegradationPolicy = "degrade",
        replay_interval: float = 1.0,
        on_degraded_read: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(inner)
        self.outbox = outbox if outbox is not None else Outbox()
        self.policy = policy
        self.replay_interval = replay_interval
        self.on_degraded_read = on_degraded_read
        self._schema: EmbeddingSchema | None = None
        self._schema_pending = False
        self._last_attempt = -float("inf")
        self._replayer: asyncio.Task[None] | None = None

    @property
    def backlog(self) -> bool:
        """True while writes wait in the outbox or the schema is not yet ensured."""
        return bool(self.outbox) or self._schema_pending

    async def recover(self) -> bool:
        """Ensure a pending schema and replay the outbox now; True when nothing is left."""
        self._last_attempt = time.monotonic()
        if self._schema_pending and self._schema is not None:
            try:
                await self.inner.ensure_schema(self._schema)
            except StoreError as exc:
                if not _unavailable(exc):
                    raise
                return False
            self._schema_pending = False
        return await self.outbox.replay(self.inner)

    async def ensure_schema(self, schema: EmbeddingSchema) -> None:
        self._schema = schema
        try:
            await self.inner.ensure_schema(schema)
        except StoreError as exc:
            if self.policy == "raise" or not _unavailable(exc):
                raise
            logger.warning("store unavailable at start; schema check deferred")
            self._schema_pending = True
            self._start_replayer()

    async def _caught_up(self) -> bool:
        """Whether calls may go straight to the store (nothing is waiting in front)."""
        if not self.backlog:
            return True
        if time.monotonic() - self._last_attempt < self.replay_interval:
            return False
        return await self.recover()

    async def _write(
        self,
        operation: WriteOperation,
        user_id: str,
        call: Callable[[], Awaitable[T]],
        *,
        deferred: T,
        records: Sequence[MemoryRecord] = (),
        vectors: Vectors | None = None,
        ids: Sequence[str] = (),
    ) -> T:
        if self.policy == "raise":
            return await call()
        if await self._caught_up():
            try:
                return await call()
            except StoreError as exc:
                if not _unavailable(exc):
                    raise
                self._last_attempt = time.monotonic()  # next try after replay_interval
                failure: StoreError | None = exc
        else:
            failure = None
        if not await self.outbox.put(operation, user_id, records, vectors, ids):
            if failure is not None:
                raise failure
            raise StoreUnavailableError(
                "store unavailable and the outbox is full",
                operation=operation,
                backend=self.backend,
                user_id=user_id,
            )
        _note(deferred=True)
        self._start_replayer()
        return deferred

    async def _read(self, operation: str, call: Callable[[], Awaitable[T]], empty: T) -> T:
        if self.policy == "raise":
            return await call()
        caught_up = await self._caught_up()
        try:
            if self._schema_pending:  # a store whose schema is unchecked must not be read
                raise StoreUnavailableError("schema check pending", operation=operation)
            result = await call()
        except StoreError as exc:
            if not _unavailable(exc):
                raise
            result, caught_up = empty, False
            self._last_attempt = time.monotonic()
        if not caught_up:  # the store may lack deferred writes, or did not answer
            _note()
            if self.on_degraded_read is not None:
                self.on_degraded_read(operation)
        return result

    def _start_replayer(self) -> None:
        if self._replayer is None or self._replayer.done():
            self._replayer = asyncio.get_running_loop().create_task(self._replay_until_empty())

    async def _replay_until_empty(self) -> None:
        while self.backlog:
            await asyncio.sleep(self.replay_interval)
            try:
                await self.recover()
            except Exception:  # a bug must not kill the loop silently, nor spin it
                logger.exception("outbox replay failed")

    async def upsert(self, user_id: str, records: Sequence[MemoryRecord], vectors: Vectors) -> None:
        await self._write(
            "upsert",
            user_id,
            lambda: self.inner.upsert(user_id, records, vectors),
            deferred=None,
            records=records,
            vectors=vectors,
        )

    async def delete(self, user_id: str, ids: Sequence[str]) -> int:
        return await self._write(
            "delete", user_id, lambda: self.inner.delete(user_id, ids), deferred=0, ids=ids
        )

    async def forget_user(self, user_id: str) -> int:
        return await self._write(
            "forget_user", user_id, lambda: self.inner.forget_user(user_id), deferred=0
        )

    async def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        return await self._read("get", lambda: self.inner.get(user_id, ids), [])

    async def get_with_vectors(
        self, user_id: str, ids: Sequence[str]
    ) -> tuple[list[MemoryRecord], Vectors]:
        dimension = self._schema.dimension if self._schema else 0
        empty: tuple[list[MemoryRecord], Vectors] = ([], np.empty((0, dimension), np.float32))
        return await self._read(
            "get_with_vectors", lambda: self.inner.get_with_vectors(user_id, ids), empty
        )

    async def user_ids(self) -> list[str]:
        return await self._read("user_ids", self.inner.user_ids, [])

    async def search(
        self, user_id: str, vector: Vectors, k: int, filters: SearchFilter
    ) -> list[SearchHit[MemoryRecord]]:
        return await self._read(
            "search", lambda: self.inner.search(user_id, vector, k, filters), []
        )

    async def list(
        self, user_id: str, filters: SearchFilter, limit: int, cursor: str | None = None
    ) -> Page[MemoryRecord]:
        return await self._read(
            "list", lambda: self.inner.list(user_id, filters, limit, cursor), Page(items=())
        )

    async def count(self, user_id: str, filters: SearchFilter) -> int:
        return await self._read("count", lambda: self.inner.count(user_id, filters), 0)

    async def health(self) -> HealthCheck:
        check = await self.inner.health()
        facts = {
            **check.facts,
            "outbox_entries": len(self.outbox),
            "outbox_dropped": self.outbox.dropped,
        }
        if not self.backlog or check.status is HealthStatus.UNHEALTHY:
            return replace(check, facts=facts)
        detail = f"{len(self.outbox)} deferred writes waiting; {check.detail}".rstrip("; ")
        return replace(check, status=HealthStatus.DEGRADED, detail=detail, facts=facts)

    async def aclose(self) -> None:
        if self._replayer is not None:
            self._replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer
        try:
            with contextlib.suppress(MemcoreError):  # failures were logged and counted
                await self.recover()  # a last chance to hand deferred writes over
        finally:
            await self.outbox.aclose()
            await self.inner.aclose()
