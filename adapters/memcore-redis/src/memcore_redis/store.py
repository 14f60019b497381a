"""RedisStore: the :class:`~memcore.ports.MemoryStore` on Redis Stack (store name ``redis``).

One ``redis.asyncio`` connection pool per store, closed by :meth:`RedisStore.aclose`;
its connections never re-send a command by themselves, and each new one checks the
server did not lose its data (:mod:`memcore_redis.durability`), after sending again
the writes of the last few seconds, which a server may lose (:mod:`memcore_redis.redo`).
Every Redis call runs inside :func:`~memcore_redis.errors.map_redis_errors`.
Round trips: an upsert batch is one MULTI/EXEC pipeline (records plus an index check);
a search is one FT.SEARCH with the filters inside the KNN pre-filter; ``update`` (a
script, :mod:`memcore_redis.update`), ``get``, ``delete`` and ``count`` are one each.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from memcore.adapterkit import check_upsert, decode_cursor
from memcore.domain import (
    Count,
    EmbeddingSchema,
    HealthCheck,
    MemoryRecord,
    Page,
    SearchFilter,
    SearchHit,
    SearchResults,
    Status,
    UserIds,
)
from memcore.errors import StoreError
from memcore.ports import UnitVectors, Vectors
from memcore.settings import MemcoreSettings, state_dir
from memcore.state import target_dir
from memcore_redis.building import IndexBuild
from memcore_redis.client import connection_pool
from memcore_redis.commands import call, round_trip
from memcore_redis.documents import record_from_fields
from memcore_redis.durability import DurabilityGuard
from memcore_redis.encoding import record_key, user_key_prefix
from memcore_redis.errors import BACKEND, is_missing_index, map_redis_errors
from memcore_redis.health import HealthProbe
from memcore_redis.layout import Command, VectorSpec, layout_for
from memcore_redis.outcome import Written, remove_unindexed, write_errors, write_outcome
from memcore_redis.query import (
    Planner,
    count_command,
    filter_query,
    indexed_command,
    knn_command,
    list_command,
    unexpired,
)
from memcore_redis.redo import RedoLog
from memcore_redis.replies import hit, live_hits, page, row, text
from memcore_redis.schema import SchemaKeeper
from memcore_redis.settings import RedisSettings, load_redis_settings, redis_settings
from memcore_redis.update import Updater, Updates

logger = logging.getLogger(__name__)


class RedisStore(Updates):
    """Memories in Redis Stack: one RediSearch index over ``<key_prefix>:{<user>}:<id>`` keys.

    Build it with :meth:`from_settings` (reads ``MEMCORE_REDIS_*``) or directly from a
    :class:`~memcore_redis.RedisSettings`. Nothing connects before the first call.
    One node of a cluster has its own class, :class:`~memcore_redis.node.ClusterNodeStore`.
    With a ``state_dir`` (:meth:`from_settings` passes memcore's), the store remembers
    there the data epoch it last saw (see :mod:`memcore_redis.durability`).
    """

    backend = BACKEND
    #: On a cluster node, the tag of its slots its own keys (index, schema, epoch) carry.
    hash_tag: str = ""
    #: Whether the layout keeps what a cluster node sorts and groups by SORTABLE.
    cluster_node: ClassVar[bool] = False

    def __init__(
        self, settings: RedisSettings | None = None, *, state_dir: Path | None = None
    ) -> None:
        self.settings = settings if settings is not None else load_redis_settings()
        suffix = f"{{{self.hash_tag}}}" if self.hash_tag else ""
        self._redo = RedoLog(self.settings.redo_window, self.settings.redo_max_writes)
        remembered = None if state_dir is None else target_dir(state_dir, "epoch", self.target)
        self._guard = DurabilityGuard(
            self.settings.key_prefix,
            self._redo,
            suffix,
            remembered=None if remembered is None else remembered / "epoch",
        )
        self._pool = connection_pool(self.settings, redis_connect_func=self._guard.on_connect)
        self._client: Redis = Redis(connection_pool=self._pool)
        self.pool_stats = self._pool.stats  # memcore_pool_connections: in_use, idle, max
        # memcore_pool_waits_total, memcore_pool_wait_seconds_total: calls that waited
        self.pool_waits = self._pool.waits
        self._layout = layout_for(self.settings.storage_type, cluster_node=self.cluster_node)
        self._updater = Updater(self._layout)
        self._index = f"{self.settings.index}{suffix}"
        self._prefix = self.settings.key_prefix
        self._keeper = SchemaKeeper(
            self._client,
            key_prefix=self._prefix,
            index=self._index,
            layout=self._layout,
            key_suffix=suffix,
        )
        self._build = IndexBuild(self._index, self._keeper, self._guard, self._prefix)
        self._probe = HealthProbe(
            self._client,
            self._index,
            self._keeper,
            index_info_interval=self.settings.health_index_info_interval,
        )
        self._planner = Planner(self.settings.hybrid_policy, self.settings.adhoc_max_candidates)
        self._counting: dict[str, asyncio.Task[None]] = {}  # planner counts in flight
        self._schema: EmbeddingSchema | None = None
        self._vector: VectorSpec | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, settings: MemcoreSettings) -> RedisStore:
        """Build from the ``redis`` section of ``settings`` (``MEMCORE_REDIS_*``); the core
        settings give the state directory.
        """
        return cls(redis_settings(settings), state_dir=state_dir(settings))

    @property
    def target(self) -> str:
        """The server and index, without credentials (names this store's state files)."""
        return f"{self.settings.target}{self.hash_tag}"

    @property
    def index_name(self) -> str:
        """The RediSearch index this store queries."""
        return self._index

    async def ensure_schema(self, schema: EmbeddingSchema) -> None:
        vector = VectorSpec.for_settings(self.settings, schema.dimension)
        await self._guard.start(self._client)  # before the schema key: see durability.py
        await self._keeper.ensure(schema, vector)
        for command in self._keeper.creation(schema, vector):
            self._redo.add([command])
        self._schema, self._vector = schema, vector

    async def upsert(
        self, user_id: str, records: Sequence[MemoryRecord], vectors: UnitVectors
    ) -> None:
        spec = self._require("upsert")
        check_upsert(user_id, records, vectors, backend=BACKEND)
        rows = vectors if spec.dtype is np.float32 else vectors.astype(spec.dtype)
        if not records:
            return
        prefix = self._user_prefix(user_id)
        keys = [f"{prefix}{record.id}" for record in records]
        distinct = list(dict.fromkeys(keys))
        writes = [
            command
            for key, record, row in zip(keys, records, rows, strict=True)
            for command in self._layout.write(key, record, row)
        ]
        # MULTI/EXEC makes a batch all-or-nothing; one command is atomic without it.
        sent = writes if len(writes) == 1 else [("MULTI",), *writes, ("EXEC",)]
        ids = [record.id for record in records]
        await self._write(Written("upsert", user_id, ids, distinct, writes), sent, spec)

    async def _write(self, written: Written, sent: Sequence[Command], spec: VectorSpec) -> Any:
        """Send ``sent`` (``written.writes``, maybe in a transaction or a script) and the
        index check of its keys in one round trip; return the first reply. Unless
        ``written.landed`` says it wrote nothing, leave nothing stored unindexed
        (:func:`remove_unindexed`) and log the writes for :mod:`~memcore_redis.redo`.
        """
        operation, keys = written.operation, written.keys
        verify = indexed_command(self._index, keys, count_only=True)
        with write_outcome(operation, written.user_id, written.record_ids):
            replies = await round_trip(self._client, [*sent, verify], raise_errors=False)
            checked = write_errors(replies)
            if isinstance(checked, ResponseError) and not is_missing_index(checked):
                raise checked
        if written.landed(replies[0]):
            if isinstance(checked, ResponseError):  # the index created again scans them
                self._redo.add(written.writes)
                await self._build.recover(self._client, operation, spec)
                return replies[0]
            if int(checked[0]) != len(keys):
                await remove_unindexed(self._client, self._index, written, self._redo)
            self._redo.add(written.writes)
        return replies[0]

    async def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        spec = self._require("get")
        return [record for record, _ in await self._read(user_id, ids, spec, vectors=False)]

    async def get_with_vectors(
        self, user_id: str, ids: Sequence[str]
    ) -> tuple[list[MemoryRecord], Vectors]:
        spec = self._require("get_with_vectors")
        found = await self._read(user_id, ids, spec, vectors=True)
        matrix = np.array([vector for _, vector in found], dtype=np.float32)
        return [record for record, _ in found], matrix.reshape(len(found), spec.dimension)

    async def user_ids(self) -> UserIds:
        spec = self._require("user_ids")
        with map_redis_errors("user_ids"):
            return await self._build.users(self._client, spec)

    async def delete(self, user_id: str, ids: Sequence[str]) -> int:
        self._require("delete")
        if not ids:
            return 0
        keys = list(dict.fromkeys(record_key(self._prefix, user_id, i) for i in ids))
        delete = ("DEL", *keys)
        with map_redis_errors("delete", user_id):
            deleted = int(await call(self._client, *delete))
        self._redo.add([delete])
        return deleted

    async def search(
        self, user_id: str, vector: UnitVectors, k: int, filters: SearchFilter
    ) -> list[SearchHit[MemoryRecord]]:
        spec = self._require("search")
        query = vector if spec.dtype is np.float32 else vector.astype(spec.dtype)
        prefilter = filter_query(user_id, filters)
        policy = self._planner.choose(prefilter)
        if policy == "BATCHES" and spec.algorithm != "HNSW":
            policy = "ADHOC_BF"  # batches walk an HNSW graph; FLAT is brute force anyway
        command = knn_command(
            self._index, prefilter, policy, query, k,
            returned=self._search_returned(filters), dialect=self._layout.dialect,
        )  # fmt: skip
        (reply,), status = await self._query("search", user_id, [command])
        self._count_soon(user_id, prefilter)
        start = len(self._user_prefix(user_id))
        found = [(key.decode()[start:], row(fields)) for key, fields in zip(
            reply[1::2], reply[2::2], strict=True
        )]  # fmt: skip
        return SearchResults(live_hits(await self._hits(user_id, found)), status=status)

    def _search_returned(self, filters: SearchFilter) -> tuple[str, ...]:
        """What a search with ``filters`` returns of each record besides its distance."""
        return self._layout.returned(filters.tags.get("kind"))

    async def _hits(
        self, user_id: str, found: Sequence[tuple[str, dict[bytes, Any]]]
    ) -> builtins.list[SearchHit[MemoryRecord]]:
        """The hits of ``(record id, returned fields)`` rows, best first."""
        stored = self._layout.stored
        return [
            hit(record_from_fields(user_id, record_id, stored(fields)), fields)
            for record_id, fields in found
        ]

    async def list(
        self, user_id: str, filters: SearchFilter, limit: int, cursor: str | None = None
    ) -> Page[MemoryRecord]:
        self._require("list")
        query = filter_query(user_id, filters)
        after = None
        if cursor is not None:
            created, record_id = decode_cursor(cursor)
            after = (created, record_key(self._prefix, user_id, record_id))
        load = self._layout.returned(filters.tags.get("kind"))
        command = list_command(
            self._index, query, limit + 1, after, load=load, dialect=self._layout.dialect
        )
        (reply,), status = await self._query("list", user_id, [command])
        start = len(self._user_prefix(user_id))
        records = []
        for flat in reply[1:]:
            values = row(flat)
            record_id = text(values[b"__key"])[start:]
            records.append(record_from_fields(user_id, record_id, self._layout.stored(values)))
        return dataclasses.replace(page(records, limit), status=status)

    async def count(self, user_id: str, filters: SearchFilter) -> Count:
        self._require("count")
        command = count_command(self._index, unexpired(filter_query(user_id, filters)))
        (reply,), status = await self._query("count", user_id, [command])
        return Count(int(reply[0]), status)

    async def forget_user(self, user_id: str) -> int:
        self._require("forget_user")
        prefilter = filter_query(user_id, SearchFilter())
        find = [
            "FT.SEARCH", self._index, prefilter, "NOCONTENT",
            "LIMIT", 0, self.settings.delete_batch_size, "DIALECT", 2,
        ]  # fmt: skip
        removed = 0
        # While the index is being built it misses records: those are found by a scan.
        stragglers = functools.partial(self._build.stragglers, self._client, user_id)
        with map_redis_errors("forget_user", user_id):
            keys = (await self._ask(user_id, [find]))[0][1:] or await stragglers()
            while keys:
                # Delete this batch and look for the next one in the same round trip.
                delete = ("DEL", *keys)
                deleted, found = await round_trip(self._client, [delete, find])
                self._redo.add([delete])
                removed += int(deleted)
                keys = found[1:] or await stragglers()
        return removed

    async def health(self) -> HealthCheck:
        ensured = (
            None if self._schema is None or self._vector is None else (self._schema, self._vector)
        )
        return await self._probe.check(ensured, closed=self._closed)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        counting = list(self._counting.values())
        for task in counting:
            task.cancel()
        await asyncio.gather(*counting, return_exceptions=True)
        await self._client.aclose()
        await self._pool.aclose()

    def _require(self, operation: str) -> VectorSpec:
        self._guard.check()
        if self._vector is None:
            raise StoreError(
                "call ensure_schema() before using the store", operation=operation, backend=BACKEND
            )
        return self._vector

    def _count_soon(self, user_id: str, prefilter: str) -> None:
        """Refresh the planner's count of ``prefilter`` in the background if it is due,
        one at a time: a search never waits for it (until it lands, searches keep the plan
        they had).
        """
        if prefilter in self._counting or self._closed or not self._planner.wants_count(prefilter):
            return
        task = asyncio.get_running_loop().create_task(self._learn(user_id, prefilter))
        self._counting[prefilter] = task
        task.add_done_callback(lambda _: self._counting.pop(prefilter, None))

    async def _learn(self, user_id: str, prefilter: str) -> None:
        try:
            (counted,) = await self._ask(user_id, [count_command(self._index, prefilter)])
        except (RedisError, OSError) as exc:
            # Only an estimate: the next search of this pre-filter asks again.
            logger.debug("planner count failed: %r", exc)
            return
        self._planner.learn(prefilter, int(counted[0]))

    async def _query(
        self, operation: str, user_id: str, queries: Sequence[Sequence[Any]]
    ) -> tuple[builtins.list[Any], Status]:
        """The replies to ``queries`` about one user's records, and their status."""
        ask = functools.partial(self._ask, user_id)
        with map_redis_errors(operation, user_id):
            return await self._build.read(
                ask, queries, self._client, operation, self._require(operation)
            )

    async def _ask(
        self,
        user_id: str,  # noqa: ARG002 - a cluster node checks it still owns the user's slot
        queries: Sequence[Sequence[Any]],
    ) -> builtins.list[Any]:
        """The replies to ``queries`` about one user's records, in one round trip."""
        return await round_trip(self._client, queries)

    def _user_prefix(self, user_id: str) -> str:
        return user_key_prefix(self._prefix, user_id)

    async def _read(
        self,
        user_id: str,
        ids: Sequence[str],
        spec: VectorSpec,
        *,
        vectors: bool,
        operation: str | None = None,
    ) -> builtins.list[tuple[MemoryRecord, Any]]:
        """``(record, vector or None)`` for each of ``ids`` that exists, in order."""
        if not ids:
            return []
        prefix = self._user_prefix(user_id)
        operation = operation or ("get_with_vectors" if vectors else "get")
        reads = [self._layout.read(f"{prefix}{record_id}", vector=vectors) for record_id in ids]
        with map_redis_errors(operation, user_id):
            replies = await round_trip(self._client, reads)
        decoded = [
            (i, self._layout.decode(reply, spec)) for i, reply in zip(ids, replies, strict=True)
        ]
        return [(record_from_fields(user_id, i, d[0]), d[1]) for i, d in decoded if d is not None]
