"""A bounded outbox: store writes the store could not take, kept in order until it can.

Each entry is one store write call (``upsert``, ``delete``, ``forget_user``...) with its
arguments. :meth:`Outbox.replay` runs entries oldest first through a handler (the chain
below the degradation layer) and removes each once the store took it. Every store write
is idempotent (upsert by id, deletes of what is gone), so an entry applied twice (a
crash between applying it and removing it, a timed-out write that did land) leaves the
same state as once.

``capacity`` bounds the records held (a delete or ``forget_user`` counts one). A write
that does not fit is refused (:meth:`Outbox.put` returns ``False``), counted and logged
as a drop; so is an entry the store rejects for good on replay (not retryable).

With a ``directory`` the outbox is durable: each entry is fsynced to this process's
journal before :meth:`~Outbox.put` returns, and journals left by processes that died
(a CLI call, a killed worker) are adopted and replayed first (:mod:`.journal`). Records
go to disk as the store would get them: under the encryption layer, ciphertext only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from memcore.errors import MemcoreError
from memcore.pipeline.call import Call, Handler
from memcore.resilience.journal import Journal
from memcore.resilience.retry import is_retryable

__all__ = ["Outbox", "OutboxListener"]

logger = logging.getLogger("memcore.outbox")

OutboxListener = Callable[[str, int], None]
"""Told ``(event, records)`` for ``deferred``, ``replayed`` and ``dropped`` (metrics)."""


@dataclass(frozen=True)
class _Entry:
    seq: int
    call: Call
    journal: Journal | None

    @property
    def size(self) -> int:
        """Records held (at least one, for deletes)."""
        return max(1, len(self.call.args.get("records", ())))


class Outbox:
    """Deferred writes in order, bounded by ``capacity`` records; see the module docstring."""

    def __init__(
        self,
        capacity: int = 10_000,
        *,
        directory: Path | str | None = None,
        on_event: OutboxListener | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.directory = Path(directory) if directory is not None else None
        self.on_event = on_event
        self.dropped = 0
        self.replayed = 0
        self._entries: deque[_Entry] = deque()
        self._size = 0
        self._seq = 0
        self._lock = asyncio.Lock()
        self._own: Journal | None = None
        self._pending: dict[Journal, int] = {}  # entries waiting, per journal

    def __len__(self) -> int:
        """Entries waiting."""
        return len(self._entries)

    @property
    def size(self) -> int:
        """Records waiting (what ``capacity`` bounds)."""
        return self._size

    async def put(self, call: Call) -> bool:
        """Queue one write behind the others; ``False`` (a counted drop) if it does not fit."""
        async with self._lock:
            entry = _Entry(self._seq + 1, call, None)
            if self._size + entry.size > self.capacity:
                self._event("dropped", entry, "outbox full: write dropped")
                return False
            if self.directory is not None:
                if self._own is None:
                    self._own = await asyncio.to_thread(Journal.create, self.directory)
                entry = _Entry(entry.seq, call, self._own)
                await asyncio.to_thread(self._own.append, entry.seq, call)
                self._pending[self._own] = self._pending.get(self._own, 0) + 1
            self._seq = entry.seq
            self._entries.append(entry)
            self._size += entry.size
        self._event("deferred", entry, "write deferred to the outbox")
        return True

    async def adopt(self) -> int:
        """Take over the journals of processes that died; returns the entries adopted.

        They go first in line: they were deferred before anything this process defers.
        """
        if self.directory is None:
            return 0
        async with self._lock:
            directory = self.directory
            mine = [journal.path for journal in (self._own, *self._pending) if journal]
            orphans = await asyncio.to_thread(lambda: list(Journal.orphans(directory, mine)))
            adopted: list[_Entry] = []
            for journal in orphans:
                calls = await asyncio.to_thread(journal.load)
                if not calls:
                    await asyncio.to_thread(journal.close, delete=True)
                    continue
                self._pending[journal] = len(calls)
                adopted += (_Entry(seq, call, journal) for seq, call in calls)
            self._entries.extendleft(reversed(adopted))
            self._size += sum(entry.size for entry in adopted)
        if adopted:
            logger.warning("adopted %d deferred writes left by a process that exited", len(adopted))
        return len(adopted)

    async def replay(self, handler: Handler) -> bool:
        """Run waiting writes through ``handler`` in order; ``True`` once none is left.

        Stops at the first retryable failure (the store is still away) and leaves that
        entry first in line. An entry failing in any other way is dropped and counted.
        """
        async with self._lock:
            while self._entries:
                entry = self._entries[0]
                try:
                    await handler(entry.call)
                except MemcoreError as exc:
                    if is_retryable(exc):
                        return False
                    self._event("dropped", entry, f"replay rejected: {type(exc).__name__}")
                else:
                    self.replayed += entry.size
                    self._event("replayed", entry, "deferred write replayed")
                await self._done(entry)
            return True

    async def aclose(self) -> None:
        """Close the journals; what is still pending stays on disk for the next process."""
        async with self._lock:
            journals = {journal: None for journal in (self._own, *self._pending) if journal}
            for journal in journals:
                pending = self._pending.get(journal, 0) > 0
                await asyncio.to_thread(journal.close, delete=not pending)
            self._own, self._pending = None, {}

    async def _done(self, entry: _Entry) -> None:
        self._entries.popleft()
        self._size -= entry.size
        journal = entry.journal
        if journal is None:
            return
        left = self._pending[journal] = self._pending[journal] - 1
        if left:
            await asyncio.to_thread(journal.done, entry.seq)
        elif journal is self._own:
            del self._pending[journal]
            await asyncio.to_thread(journal.empty)
        else:
            del self._pending[journal]
            await asyncio.to_thread(journal.close, delete=True)

    def _event(self, event: str, entry: _Entry, message: str) -> None:
        if event == "dropped":
            self.dropped += entry.size
        log = logger.error if event == "dropped" else logger.info
        log(
            message,
            extra={"operation": entry.call.operation, "records": entry.size, "outbox": len(self)},
        )
        if self.on_event is not None:
            self.on_event(event, entry.size)
