"""A bounded outbox: writes the store could not take, kept in order until it can.

Each entry is one store write (``upsert``, ``delete`` or ``forget_user``) with its
arguments. :meth:`Outbox.replay` applies entries oldest first and removes each once the
store took it. Every store write is idempotent (upsert by id, deletes of what is gone),
so an entry applied twice (a crash between applying it and removing it, a timed-out
write that did land) leaves the same state as once.

``capacity`` bounds the records held (a delete or ``forget_user`` counts one). A write
that does not fit is refused (:meth:`Outbox.put` returns ``False``), counted and logged
as a drop; so is an entry the store rejects for good on replay (not retryable).

With ``path`` the outbox is also an append-only JSON-lines file, fsynced on each put,
so deferred writes survive a crash or restart: a line per entry, a ``{"done": seq}``
line per replayed or dropped one, and the file is emptied whenever the outbox is.
Records go to the file as the store would get them: put the outbox under the
encryption layer and it holds ciphertext only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from memcore.domain import MemoryRecord
from memcore.domain.codec import record_from_dict, record_to_dict
from memcore.errors import ConfigurationError, MemcoreError
from memcore.ports import MemoryStore, Vectors
from memcore.resilience.retry import is_retryable

__all__ = ["Outbox", "OutboxEntry", "OutboxListener", "WriteOperation"]

logger = logging.getLogger("memcore.outbox")

WriteOperation = Literal["upsert", "delete", "forget_user"]

OutboxListener = Callable[[str, int], None]
"""Told ``(event, records)`` for ``deferred``, ``replayed`` and ``dropped`` (metrics)."""


def _no_vectors() -> Vectors:
    return np.empty((0, 0), dtype=np.float32)


@dataclass(frozen=True)
class OutboxEntry:
    """One deferred write; ``seq`` orders entries and names them in the file."""

    seq: int
    operation: WriteOperation
    user_id: str
    records: tuple[MemoryRecord, ...] = ()
    vectors: Vectors = field(default_factory=_no_vectors)
    ids: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Records held (at least one, for deletes)."""
        return max(1, len(self.records))

    async def apply(self, store: MemoryStore) -> None:
        """Perform this write on ``store``."""
        if self.operation == "upsert":
            await store.upsert(self.user_id, self.records, self.vectors)
        elif self.operation == "delete":
            await store.delete(self.user_id, self.ids)
        elif self.operation == "forget_user":
            await store.forget_user(self.user_id)

    def to_json(self) -> str:
        """One line of the outbox file."""
        data: dict[str, Any] = {"seq": self.seq, "op": self.operation, "user_id": self.user_id}
        if self.operation == "upsert":
            data["records"] = [record_to_dict(record) for record in self.records]
            data["vectors"] = base64.b64encode(self.vectors.astype("<f4").tobytes()).decode()
        if self.ids:
            data["ids"] = list(self.ids)
        return json.dumps(data, ensure_ascii=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutboxEntry:
        """Inverse of :meth:`to_json`."""
        records = tuple(record_from_dict(item) for item in data.get("records", ()))
        vectors = _no_vectors()
        if data["op"] == "upsert":
            flat = np.frombuffer(base64.b64decode(data["vectors"]), dtype="<f4")
            vectors = np.ascontiguousarray(flat.reshape(len(records), -1), dtype=np.float32)
        return cls(
            seq=int(data["seq"]),
            operation=data["op"],
            user_id=data["user_id"],
            records=records,
            vectors=vectors,
            ids=tuple(data.get("ids", ())),
        )


class Outbox:
    """Deferred writes in order, bounded by ``capacity`` records; see the module docstring."""

    def __init__(
        self,
        capacity: int = 10_000,
        *,
        path: Path | str | None = None,
        on_event: OutboxListener | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.path = Path(path) if path is not None else None
        self.on_event = on_event
        self.dropped = 0
        self.replayed = 0
        self._entries: deque[OutboxEntry] = deque()
        self._size = 0
        self._seq = 0
        self._lock = asyncio.Lock()
        self._file: int | None = None
        if self.path is not None:
            self._load(self.path)

    def __len__(self) -> int:
        """Entries waiting."""
        return len(self._entries)

    @property
    def size(self) -> int:
        """Records waiting (what ``capacity`` bounds)."""
        return self._size

    async def put(
        self,
        operation: WriteOperation,
        user_id: str,
        records: Sequence[MemoryRecord] = (),
        vectors: Vectors | None = None,
        ids: Sequence[str] = (),
    ) -> bool:
        """Queue one write behind the others; ``False`` (a counted drop) if it does not fit."""
        async with self._lock:
            entry = OutboxEntry(
                seq=self._seq + 1,
                operation=operation,
                user_id=user_id,
                records=tuple(records),
                vectors=_no_vectors() if vectors is None else np.array(vectors, dtype=np.float32),
                ids=tuple(ids),
            )
            if self._size + entry.size > self.capacity:
                self._event("dropped", entry, "outbox full: write dropped")
                return False
            if self.path is not None:
                await asyncio.to_thread(self._append, entry.to_json(), sync=True)
            self._seq = entry.seq
            self._entries.append(entry)
            self._size += entry.size
        self._event("deferred", entry, "write deferred to the outbox")
        return True

    async def replay(self, store: MemoryStore) -> bool:
        """Apply waiting writes to ``store`` in order; ``True`` once the outbox is empty.

        Stops at the first retryable failure (the store is still away) and leaves that
        entry first in line. An entry failing in any other way is dropped and counted.
        """
        async with self._lock:
            while self._entries:
                entry = self._entries[0]
                try:
                    await entry.apply(store)
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
        """Close the file (entries stay in it for the next process)."""
        async with self._lock:
            if self._file is not None:
                os.close(self._file)
                self._file = None

    async def _done(self, entry: OutboxEntry) -> None:
        self._entries.popleft()
        self._size -= entry.size
        if self.path is None:
            return
        if self._entries:
            # Not synced: a lost "done" line only means an idempotent replay again.
            await asyncio.to_thread(self._append, json.dumps({"done": entry.seq}), sync=False)
        else:
            await asyncio.to_thread(self._truncate)

    def _event(self, event: str, entry: OutboxEntry, message: str) -> None:
        if event == "dropped":
            self.dropped += entry.size
        log = logger.error if event == "dropped" else logger.info
        log(
            message,
            extra={"operation": entry.operation, "records": entry.size, "outbox": len(self)},
        )
        if self.on_event is not None:
            self.on_event(event, entry.size)

    def _open(self) -> int:
        if self._file is None:
            assert self.path is not None  # noqa: S101 - only called with a path
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        return self._file

    def _append(self, line: str, *, sync: bool) -> None:
        fd = self._open()
        os.write(fd, (line + "\n").encode("ascii"))
        if sync:
            os.fsync(fd)

    def _truncate(self) -> None:
        fd = self._open()
        os.ftruncate(fd, 0)
        os.fsync(fd)

    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        raw = path.read_bytes()
        complete = raw.rfind(b"\n") + 1
        if complete < len(raw):
            # A crash cut the last line short; it was never acknowledged: cut it off.
            logger.warning("outbox file ends with a partial line; ignored")
            os.truncate(path, complete)
        pending: dict[int, OutboxEntry] = {}
        for number, line in enumerate(raw[:complete].splitlines(), start=1):
            try:
                data = json.loads(line)
                if "done" in data:
                    pending.pop(int(data["done"]), None)
                    continue
                entry = OutboxEntry.from_json(data)
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigurationError(
                    f"outbox file {path} is corrupt at line {number}",
                    setting="MEMCORE_DEGRADATION__OUTBOX_PATH",
                ) from exc
            pending[entry.seq] = entry
            self._seq = max(self._seq, entry.seq)
        self._entries.extend(pending[seq] for seq in sorted(pending))
        self._size = sum(entry.size for entry in self._entries)
