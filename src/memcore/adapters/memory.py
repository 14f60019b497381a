"""The in-memory reference store: exact cosine search with numpy, optional snapshot file.

Each user has a :class:`~memcore.adapters.shard.Shard`: one contiguous float32 matrix of
unit-length rows, plus a numpy column per indexed field, so a filter is a vectorised
mask computed *before* ranking. A search is one matrix-vector product over the user's rows
(or the masked subset) and an ``argpartition`` for the top k, which is the numpy floor.

All state changes happen under one lock and without awaiting, so concurrent tasks (and
threads, through the sync facade) never see a half-written shard.
"""

from __future__ import annotations

import builtins
import functools
import json
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

from memcore.adapterkit import SchemaGuard, check_upsert, decode_cursor, encode_cursor, top_k
from memcore.adapters.shard import Codes, Shard
from memcore.domain import (
    EmbeddingSchema,
    HealthCheck,
    HealthStatus,
    MemoryRecord,
    Page,
    RecordUpdate,
    SearchFilter,
    SearchHit,
    UserIds,
    apply_update,
    utcnow,
)
from memcore.domain.codec import record_from_dict, record_to_dict
from memcore.errors import ConflictError, SchemaMismatchError, StoreError
from memcore.ports import UnitVectors, Vectors
from memcore.settings import MemcoreSettings

_SNAPSHOT_VERSION = 1
_DENSE_FILTER = 4  # a filter keeping >= 1/4 of the rows is "dense"
_ONE_THREAD_MAX = 1 << 22
"""Matrices of at most this many elements (about 10,000 rows of 384) are scored on one
BLAS thread: OpenBLAS's threads save little there, and on busy cores a search waits for
them (1,300 rows: p99 16 ms instead of 0.1 ms, docs/benchmarks.md). Larger matrices keep
BLAS's threads, which pay off on free cores."""
_ONE_THREAD = threading.Lock()
"""The thread limit is the process's: one limited scoring at a time, so that each
restores the limit it found (two interleaved could leave BLAS on one thread)."""


class InMemoryStore:
    """A :class:`~memcore.ports.MemoryStore` in process memory (store name ``memory``).

    ``snapshot_path`` makes data survive restarts: it is loaded by
    :meth:`ensure_schema` and written by :meth:`save` and :meth:`aclose`, atomically
    (written to a temporary file, then renamed over the old one).
    """

    backend = "memory"

    def __init__(self, snapshot_path: Path | str | None = None) -> None:
        self._snapshot_path = Path(snapshot_path) if snapshot_path else None
        self._guard = SchemaGuard(self.backend)
        self._shards: dict[str, Shard] = {}
        self._codes = Codes()
        self._lock = threading.RLock()
        self.expired = 0
        """Expired records dropped so far (health facts ``expired``)."""

    @property
    def target(self) -> str:
        """``memory:<snapshot path>``, or ``memory:`` and this object's id without one."""
        return f"memory:{self._snapshot_path or hex(id(self))}"

    @classmethod
    def from_settings(cls, settings: MemcoreSettings) -> InMemoryStore:
        """Build from ``MEMCORE_MEMORY__SNAPSHOT_PATH``."""
        return cls(snapshot_path=settings.memory.snapshot_path)

    async def ensure_schema(self, schema: EmbeddingSchema) -> None:
        with self._lock:
            if self._guard.schema is None and self._snapshot_path and self._snapshot_path.exists():
                self._load(self._snapshot_path)
            if self._guard.schema is not None and self._guard.schema != schema:
                raise SchemaMismatchError(
                    "embedding schema mismatch",
                    expected=self._guard.schema.describe(),
                    actual=schema.describe(),
                    operation="ensure_schema",
                    backend=self.backend,
                )
            self._guard.schema = schema

    async def upsert(
        self, user_id: str, records: Sequence[MemoryRecord], vectors: UnitVectors
    ) -> None:
        schema = self._guard.require("upsert")
        check_upsert(user_id, records, vectors, backend=self.backend)
        with self._lock:
            shard = self._shards.get(user_id)
            if shard is None:
                shard = self._shards[user_id] = Shard(schema.dimension)
            self._purge(shard)
            for record, vector in zip(records, vectors, strict=True):
                shard.put(record, vector, self._codes)

    async def update(
        self, user_id: str, update: RecordUpdate, vector: UnitVectors | None
    ) -> MemoryRecord | None:
        self._guard.require("update")
        with self._lock:
            shard = self._shards.get(user_id)
            live = [] if shard is None else self._live_rows(shard, [update.id])
            if not live and update.create is not None and vector is not None:
                await self.upsert(user_id, [update.create], vector)
                return update.create
            if shard is None or not live or not update.applies_to(shard.records[live[0]]):
                return None
            row = live[0]
            record = shard.records[row]
            if update.guard and record.updated_at != update.if_updated_at:
                raise ConflictError(
                    f"record {update.id!r} changed since it was read",
                    operation="update",
                    backend=self.backend,
                    user_id=user_id,
                )
            updated = apply_update(record, update)
            new = None if update.create is not None else vector  # create: keep the embedding
            shard.put(updated, shard.vectors[row] if new is None else new, self._codes)
            return updated

    async def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        self._guard.require("get")
        with self._lock:
            shard = self._shards.get(user_id)
            if shard is None:
                return []
            return [shard.records[row] for row in self._live_rows(shard, ids)]

    async def get_with_vectors(
        self, user_id: str, ids: Sequence[str]
    ) -> tuple[list[MemoryRecord], Vectors]:
        schema = self._guard.require("get_with_vectors")
        with self._lock:
            shard = self._shards.get(user_id)
            rows = [] if shard is None else self._live_rows(shard, ids)
            if shard is None or not rows:
                return [], np.empty((0, schema.dimension), dtype=np.float32)
            return [shard.records[row] for row in rows], shard.vectors[rows]

    async def user_ids(self) -> UserIds:
        self._guard.require("user_ids")
        with self._lock:
            return UserIds(sorted(self._shards))

    async def delete(self, user_id: str, ids: Sequence[str]) -> int:
        self._guard.require("delete")
        with self._lock:
            shard = self._shards.get(user_id)
            if shard is None:
                return 0
            self._purge(shard)
            removed = sum(shard.remove(record_id) for record_id in dict.fromkeys(ids))
            if shard.size == 0:
                del self._shards[user_id]
            return removed

    async def search(
        self, user_id: str, vector: UnitVectors, k: int, filters: SearchFilter
    ) -> list[SearchHit[MemoryRecord]]:
        self._guard.require("search")
        with self._lock:
            shard = self._shards.get(user_id)
            if shard is None:
                return []
            rows = self._matching_rows(shard, filters)
            if rows is None:
                scores = _scores(shard.vectors[: shard.size], vector)
            elif len(rows) * _DENSE_FILTER >= shard.size:
                # Most rows match: scoring all of them beats copying them out first.
                scores = _scores(shard.vectors[: shard.size], vector)[rows]
            else:
                scores = _scores(shard.vectors[rows], vector)
            top = top_k(scores, k)
            picked = top if rows is None else rows[top]
            clipped = np.clip(scores[top], -1.0, 1.0).tolist()
            return [
                SearchHit(record=shard.records[row], score=score)
                for score, row in zip(clipped, picked.tolist(), strict=True)
            ]

    async def list(
        self, user_id: str, filters: SearchFilter, limit: int, cursor: str | None = None
    ) -> Page[MemoryRecord]:
        self._guard.require("list")
        after = decode_cursor(cursor) if cursor else None
        with self._lock:
            shard = self._shards.get(user_id)
            if shard is None:
                return Page(items=())
            rows = self._matching_rows(shard, filters)
            candidates = [
                shard.records[row] for row in (range(shard.size) if rows is None else rows)
            ]
        keyed = sorted(candidates, key=_order_key)
        if after is not None:
            keyed = [record for record in keyed if _order_key(record) > after]
        items = tuple(keyed[:limit])
        more = len(keyed) > limit
        last = items[-1] if more else None
        cursor = None if last is None else encode_cursor(*_order_key(last))
        return Page(items=items, next_cursor=cursor)

    async def count(self, user_id: str, filters: SearchFilter) -> int:
        self._guard.require("count")
        with self._lock:
            shard = self._shards.get(user_id)
            if shard is None:
                return 0
            rows = self._matching_rows(shard, filters)
            return shard.size if rows is None else len(rows)

    async def forget_user(self, user_id: str) -> int:
        self._guard.require("forget_user")
        with self._lock:
            shard = self._shards.pop(user_id, None)
            if shard is None:
                return 0
            self._purge(shard)
            return shard.size

    async def health(self) -> HealthCheck:
        started = time.perf_counter()
        with self._lock:
            users = len(self._shards)
            records = sum(shard.size for shard in self._shards.values())
        ready = self._guard.schema is not None
        return HealthCheck(
            component="store",
            status=HealthStatus.HEALTHY if ready else HealthStatus.DEGRADED,
            latency_ms=(time.perf_counter() - started) * 1000,
            detail=f"{records} records of {users} users" if ready else "schema not set",
            facts={
                "backend": self.backend,
                "users": users,
                "records": records,
                "expired": self.expired,
            },
        )

    async def save(self) -> None:
        """Write the snapshot now (no-op without ``snapshot_path``)."""
        if self._snapshot_path is not None and self._guard.schema is not None:
            with self._lock:
                self._dump(self._snapshot_path)

    async def aclose(self) -> None:
        await self.save()

    def _live_rows(self, shard: Shard, ids: Sequence[str]) -> builtins.list[int]:
        """The rows of ``ids`` that exist and have not expired, in order."""
        now = utcnow()
        rows = [shard.rows[record_id] for record_id in ids if record_id in shard.rows]
        return [row for row in rows if _alive(shard.records[row].expires_at, now)]

    def _purge(self, shard: Shard) -> None:
        """Drop ``shard``'s expired records (counted in :attr:`expired`)."""
        for record_id in shard.expired(time.time()):
            self.expired += shard.remove(record_id)

    def _matching_rows(self, shard: Shard, filters: SearchFilter) -> NDArray[np.intp] | None:
        return shard.matching(filters, self._codes, time.time())

    def _dump(self, path: Path) -> None:
        schema = self._guard.schema
        if schema is None:
            return
        records = [record_to_dict(r) for shard in self._shards.values() for r in shard.records]
        vectors = [shard.vectors[: shard.size] for shard in self._shards.values()]
        header = {
            "version": _SNAPSHOT_VERSION,
            "dimension": schema.dimension,
            "model": schema.model,
            "records": records,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(
                    handle,
                    header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                    vectors=np.concatenate(vectors)
                    if vectors
                    else np.empty((0, schema.dimension), np.float32),
                )
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _load(self, path: Path) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(data["header"].tobytes())
                vectors = np.array(data["vectors"], dtype=np.float32)
            records = [record_from_dict(item) for item in header["records"]]
        except (OSError, ValueError, KeyError) as exc:
            raise StoreError(
                f"cannot read snapshot {path}: {exc}", operation="load", backend=self.backend
            ) from exc
        schema = EmbeddingSchema(dimension=header["dimension"], model=header["model"])
        self._guard.schema = schema
        for record, vector in zip(records, vectors, strict=True):
            shard = self._shards.get(record.user_id)
            if shard is None:
                shard = self._shards[record.user_id] = Shard(schema.dimension)
            shard.put(record, vector, self._codes)


def _alive(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is None or expires_at > now


def _order_key(record: MemoryRecord) -> tuple[float, str]:
    return (record.created_at.timestamp(), record.id)


@functools.cache
def _blas() -> ThreadpoolController:
    """The BLAS libraries numpy loaded, found once (finding them takes milliseconds)."""
    return ThreadpoolController().select(user_api="blas")


def _scores(matrix: NDArray[np.float32], vector: UnitVectors) -> NDArray[np.float32]:
    """``matrix @ vector``, on one BLAS thread up to :data:`_ONE_THREAD_MAX` elements.

    Each BLAS library's thread count is read and set through its threadpoolctl controller
    directly: ``ThreadpoolController.limit()`` gathers every library's full info on entry
    and exit, which cost more than a 1,000-row product itself.
    """
    if matrix.size > _ONE_THREAD_MAX:
        return matrix @ vector
    with _ONE_THREAD:
        changed = []
        for library in _blas().lib_controllers:
            threads = library.get_num_threads()
            if threads is not None and threads != 1:
                library.set_num_threads(1)
                changed.append((library, threads))
        try:
            return matrix @ vector
        finally:
            for library, threads in changed:
                library.set_num_threads(threads)
