"""RedisStore: the :class:`~memcore.ports.MemoryStore` on Redis Stack (store name ``redis``).

One ``redis.asyncio`` connection pool per store, closed by :meth:`RedisStore.aclose`;
its connections never re-send a command by themselves, and each new one checks the
server did not lose its data (:mod:`memcore_redis.durability`), after sending again
the writes of the last few seconds, which a server may lose (:mod:`memcore_redis.redo`).
Every Redis call runs inside :func:`~memcore_redis.errors.map_redis_errors`.
Round trips: an upsert batch is one MULTI/EXEC pipeline (records plus an index check);
a search is one FT.SEARCH with the filters inside the KNN pre-filter; ``get``,
``delete`` and ``count`` are one round trip each.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from redis.asyncio import Redis
from redis.exceptions import RedisError

from memcore.adapterkit import check_upsert, decode_cursor, encode_cursor
from memcore.domain import (
    EmbeddingSchema,
    HealthCheck,
    MemoryRecord,
    Page,
    SearchFilter,
    SearchHit,
)
from memcore.errors import StoreError
from memcore.ports import UnitVectors, Vectors
from memcore.settings import MemcoreSettings
from memcore_redis.client import connection_pool
from memcore_redis.commands import call, round_trip
from memcore_redis.durability import DurabilityGuard
from memcore_redis.encoding import (
    record_from_stored,
    record_key,
    user_from_tag,
    user_key_prefix,
)
from memcore_redis.errors import BACKEND, map_redis_errors
from memcore_redis.health import HealthProbe
from memcore_redis.layout import VectorSpec, layout_for
from memcore_redis.query import (
    DISTANCE,
    Planner,
    filter_query,
    knn_query,
)
from memcore_redis.redo import RedoLog
from memcore_redis.schema import SchemaKeeper
from memcore_redis.settings import RedisSettings, load_redis_settings

logger = logging.getLogger(__name__)

_DISTANCE_KEY = DISTANCE.encode()


class RedisStore:
    """Memories in Redis Stack: one RediSearch index over ``<key_prefix>:{<user>}:<id>`` keys.

    Build it with :meth:`from_settings` (reads ``MEMCORE_REDIS_*``) or directly from a
    :class:`~memcore_redis.RedisSettings`. Nothing connects before the first call.
    ``hash_tag`` is for one node of a cluster (see :mod:`memcore_redis.cluster`).
    """

    backend = BACKEND

    def __init__(self, settings: RedisSettings | None = None, *, hash_tag: str = "") -> None:
        self.settings = settings if settings is not None else load_redis_settings()
        # On a cluster node, its own keys (index, schema, epoch) carry a tag of its slots.
        self.hash_tag = hash_tag
        suffix = f"{{{hash_tag}}}" if hash_tag else ""
        self._redo = RedoLog(self.settings.redo_window, self.settings.redo_max_writes)
        self._guard = DurabilityGuard(self.settings.key_prefix, self._redo, suffix)
        self._pool = connection_pool(self.settings, redis_connect_func=self._guard.on_connect)
        self._client: Redis = Redis(connection_pool=self._pool)
        # A cluster node's search module reads no keys outside its index name's slot, so
        # there the index finds keys and the store reads their records itself.
        self._by_key = bool(hash_tag)
        self._layout = layout_for(self.settings.storage_type, cluster_node=self._by_key)
        self._returned = self._layout.returned()
        self._index = f"{self.settings.index}{suffix}"
        self._prefix = self.settings.key_prefix
        self._keeper = SchemaKeeper(
            self._client,
            key_prefix=self._prefix,
            index=self._index,
            layout=self._layout,
            key_suffix=suffix,
        )
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
    def from_settings(cls, settings: MemcoreSettings) -> RedisStore:  # noqa: ARG003
        """Build from ``MEMCORE_REDIS_*`` (the core settings hold nothing for Redis)."""
        return cls(load_redis_settings())

    @property
    def target(self) -> str:
        """The server and index, without credentials (names this store's state files)."""
        return f"{self.settings.target}{self.hash_tag}"

    @property
    def index_name(self) -> str:
        """The RediSearch index this store queries."""
        return self._index

    async def ensure_schema(self, schema: EmbeddingSchema) -> None:
        vector = VectorSpec(
            dimension=schema.dimension,
            datatype=self.settings.vector_datatype,
            algorithm=self.settings.vector_algorithm,
            m=self.settings.hnsw_m,
            ef_construction=self.settings.hnsw_ef_construction,
            ef_runtime=self.settings.hnsw_ef_runtime,
        )
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
            self._layout.write(key, record, row)
            for key, record, row in zip(keys, records, rows, strict=True)
        ]
        verify = self._indexed_query(distinct, count_only=True)
        with map_redis_errors("upsert", user_id):
            # MULTI/EXEC makes a batch all-or-nothing; one write is atomic without it.
            # Either way it is one round trip, index check included.
            if len(writes) == 1:
                replies = await round_trip(self._client, [*writes, verify])
            else:
                replies = await round_trip(self._client, [("MULTI",), *writes, ("EXEC",), verify])
                _raise_first_error(replies[-2])
        if int(replies[-1][0]) != len(distinct):
            await self._remove_unindexed(user_id, distinct)
        self._redo.add(writes)

    async def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        spec = self._require("get")
        return [record for record, _ in await self._read(user_id, ids, spec, vectors=False)]

    async def get_with_vectors(
        self, user_id: str, ids: Sequence[str]
    ) -> tuple[list[MemoryRecord], Vectors]:
        spec = self._require("get_with_vectors")
        found = await self._read(user_id, ids, spec, vectors=True)
        matrix = np.empty((len(found), spec.dimension), dtype=np.float32)
        for row, (_, vector) in enumerate(found):
            matrix[row] = vector
        return [record for record, _ in found], matrix

    async def user_ids(self) -> list[str]:
        self._require("user_ids")
        users: set[str] = set()
        with map_redis_errors("user_ids"):
            reply = await call(
                self._client,
                "FT.AGGREGATE",
                self._index,
                "*",
                "GROUPBY",
                1,
                "@user_id",
                "WITHCURSOR",
                "COUNT",
                1_000,
                "DIALECT",
                2,
            )
            while True:
                rows, cursor = reply
                users.update(user_from_tag(_text(row[1])) for row in rows[1:] if row[1])
                if not int(cursor):
                    break
                reply = await call(self._client, "FT.CURSOR", "READ", self._index, cursor)
        return sorted(users)

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
        command = self._knn_command(prefilter, policy, query, k)
        with map_redis_errors("search", user_id):
            (reply,) = await self._ask(user_id, [command])
        self._count_soon(user_id, prefilter)
        start = len(self._user_prefix(user_id))
        found = [(key.decode()[start:], _row(fields)) for key, fields in zip(
            reply[1::2], reply[2::2], strict=True
        )]  # fmt: skip
        if not self._by_key:
            stored = self._layout.stored
            return [
                _hit(record_from_stored(user_id, record_id, *stored(row)), row)
                for record_id, row in found
            ]
        records = await self._records(user_id, [record_id for record_id, _ in found], "search")
        # A record deleted between the search and the read is left out.
        return [_hit(records[i], row) for i, row in found if i in records]

    async def list(
        self, user_id: str, filters: SearchFilter, limit: int, cursor: str | None = None
    ) -> Page[MemoryRecord]:
        self._require("list")
        query = filter_query(user_id, filters)
        if self._by_key:
            return await self._list_by_key(user_id, query, limit, cursor)
        command: builtins.list[Any] = ["FT.AGGREGATE", self._index]
        if cursor is None:
            command += [query, "LOAD", 2, "@__key", "@created_at"]
        else:
            created, record_id = decode_cursor(cursor)
            after = record_key(self._prefix, user_id, record_id)
            command += [
                f"{query} @created_at:[{created!r} +inf]",
                "LOAD",
                2,
                "@__key",
                "@created_at",
                "FILTER",
                f"@created_at > {created!r} || (@created_at == {created!r} && @__key > '{after}')",
            ]
        load = self._returned
        command += [
            "SORTBY",
            4,
            "@created_at",
            "ASC",
            "@__key",
            "ASC",
            "MAX",
            limit + 1,
            "LOAD",
            len(load),
            *load,
            "LIMIT",
            0,
            limit + 1,
            "DIALECT",
            self._layout.dialect,
        ]
        with map_redis_errors("list", user_id):
            reply = await call(self._client, *command)
        start = len(self._user_prefix(user_id))
        records = []
        for row in reply[1:]:
            values = _row(row)
            record_id = _text(values[b"__key"])[start:]
            records.append(record_from_stored(user_id, record_id, *self._layout.stored(values)))
        return _page(records, limit)

    async def _list_by_key(
        self, user_id: str, query: str, limit: int, cursor: str | None
    ) -> Page[MemoryRecord]:
        """:meth:`list` on a cluster node: the index orders keys by ``created_at`` (ties in
        no particular order); the records are read by key, and ordered and cut after the
        cursor by ``(created_at, id)`` here, reading on until the last tie is in.
        """
        after = (float("-inf"), "") if cursor is None else decode_cursor(cursor)
        lower = "-inf" if cursor is None else repr(after[0])
        batch, offset = limit + 1, 0
        # By id: a write landing meanwhile shifts the offsets, and a key may come twice.
        taken: dict[str, tuple[float, str, MemoryRecord]] = {}
        while True:
            with map_redis_errors("list", user_id):
                (reply,) = await self._ask(user_id, [(
                    "FT.SEARCH", self._index, f"{query} @created_at:[{lower} +inf]", "NOCONTENT",
                    "SORTBY", "created_at", "ASC", "LIMIT", offset, batch, "DIALECT", 2,
                )])  # fmt: skip
            start = len(self._user_prefix(user_id))
            ids = [_text(key)[start:] for key in reply[1:]]
            records = await self._records(user_id, ids, "list")
            last = float("-inf")
            for record_id in ids:
                record = records.get(record_id)
                if record is not None:
                    last = record.created_at.timestamp()
                    if (last, record_id) > after:
                        taken[record_id] = (last, record_id, record)
            offset += batch
            ordered = sorted(taken.values(), key=lambda row: row[:2])
            if len(ids) < batch or (len(ordered) > limit and last > ordered[limit][0]):
                return _page([record for *_, record in ordered], limit)

    async def count(self, user_id: str, filters: SearchFilter) -> int:
        self._require("count")
        prefilter = filter_query(user_id, filters)
        with map_redis_errors("count", user_id):
            (reply,) = await self._ask(user_id, [self._count_query(prefilter)])
        return int(reply[0])

    async def forget_user(self, user_id: str) -> int:
        self._require("forget_user")
        prefilter = filter_query(user_id, SearchFilter())
        find = [
            "FT.SEARCH",
            self._index,
            prefilter,
            "NOCONTENT",
            "LIMIT",
            0,
            self.settings.delete_batch_size,
            "DIALECT",
            2,
        ]
        removed = 0
        with map_redis_errors("forget_user", user_id):
            keys = (await self._ask(user_id, [find]))[0][1:]
            while keys:
                # Delete this batch and look for the next one in the same round trip.
                delete = ("DEL", *keys)
                deleted, found = await round_trip(self._client, [delete, find])
                self._redo.add([delete])
                removed += int(deleted)
                keys = found[1:]
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
        if self._vector is None:
            raise StoreError(
                "call ensure_schema() before using the store", operation=operation, backend=BACKEND
            )
        return self._vector

    def _knn_command(
        self, prefilter: str, policy: str | None, query: NDArray[Any], k: int
    ) -> builtins.list[Any]:
        """The ``FT.SEARCH`` of the ``k`` records nearest ``query`` (unit length, the
        stored dtype) among those ``prefilter`` matches, with ``policy``'s plan.
        """
        params: builtins.list[Any] = ["k", k, "vec", query.tobytes()]
        returned = [DISTANCE] if self._by_key else [*self._returned, DISTANCE]
        return [
            "FT.SEARCH",
            self._index,
            knn_query(prefilter, policy),
            "PARAMS",
            len(params),
            *params,
            "SORTBY",
            DISTANCE,
            "ASC",
            "LIMIT",
            0,
            k,
            "RETURN",
            len(returned),
            *returned,
            "DIALECT",
            self._layout.dialect,
        ]

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
            (counted,) = await self._ask(user_id, [self._count_query(prefilter)])
        except (RedisError, OSError) as exc:
            # Only an estimate: the next search of this pre-filter asks again.
            logger.debug("planner count failed: %r", exc)
            return
        self._planner.learn(prefilter, int(counted[0]))

    def _count_query(self, prefilter: str) -> builtins.list[Any]:
        return ["FT.SEARCH", self._index, prefilter, "NOCONTENT", "LIMIT", 0, 0, "DIALECT", 2]

    def _indexed_query(self, keys: Sequence[str], *, count_only: bool) -> builtins.list[Any]:
        """Which of ``keys`` the index holds (RediSearch skips what it cannot index)."""
        limit = 0 if count_only else len(keys)
        return [
            "FT.SEARCH",
            self._index,
            "*",  # INKEYS does the narrowing, and the keys carry the user
            "NOCONTENT",
            "INKEYS",
            len(keys),
            *keys,
            "LIMIT",
            0,
            limit,
            "DIALECT",
            2,
        ]

    async def _ask(self, user_id: str, queries: Sequence[Sequence[Any]]) -> builtins.list[Any]:
        """The replies to ``queries`` about one user's records, in one round trip.

        On a cluster node an index answers for whatever keys the node holds, even after
        the user's slot moved away; so a read of a key in the user's slot goes first, and
        a node that lost the slot answers it ``MOVED`` (see :mod:`memcore_redis.cluster`).
        """
        if not self._by_key:
            return await round_trip(self._client, queries)
        replies = await round_trip(self._client, [("EXISTS", self._user_prefix(user_id)), *queries])
        return replies[1:]

    def _user_prefix(self, user_id: str) -> str:
        return user_key_prefix(self._prefix, user_id)

    async def _records(
        self, user_id: str, ids: Sequence[str], operation: str
    ) -> dict[str, MemoryRecord]:
        """The records of ``ids`` that exist, by id (one round trip)."""
        spec = self._require(operation)
        found = await self._read(user_id, ids, spec, vectors=False, operation=operation)
        return {record.id: record for record, _ in found}

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
        found = []
        for record_id, reply in zip(ids, replies, strict=True):
            decoded = self._layout.decode(reply, spec)
            if decoded is not None:
                stored, vector = decoded
                record = record_from_stored(user_id, record_id, *stored)
                found.append((record, vector))
        return found

    async def _remove_unindexed(self, user_id: str, keys: Sequence[str]) -> None:
        """Delete what was written but not indexed, then raise: never stored-but-unsearchable."""
        with map_redis_errors("upsert", user_id):
            reply = await call(self._client, *self._indexed_query(keys, count_only=False))
            indexed = {_text(key) for key in reply[1:]}
            failed = [key for key in keys if key not in indexed]
            if failed:
                delete = ("DEL", *failed)
                await call(self._client, *delete)
                self._redo.add([delete])
        raise StoreError(
            f"{len(failed)} of {len(keys)} records were written but RediSearch could not index "
            f"them in {self._index!r} (does the index still match the schema?); they were removed",
            operation="upsert",
            backend=BACKEND,
            user_id=user_id,
        )


def _page(records: Sequence[MemoryRecord], limit: int) -> Page[MemoryRecord]:
    """The first ``limit`` of ``records`` (one more, if there, says a next page exists)."""
    items = tuple(records[:limit])
    if len(records) <= limit:
        return Page(items=items)
    last = items[-1]
    return Page(items=items, next_cursor=encode_cursor(last.created_at.timestamp(), last.id))


def _hit(record: MemoryRecord, row: dict[bytes, Any]) -> SearchHit[MemoryRecord]:
    """A search hit; cosine similarity from the index's distance, clamped to [-1, 1]."""
    score = 1.0 - float(row[_DISTANCE_KEY])
    return SearchHit(record, min(1.0, max(-1.0, score)))


def _raise_first_error(replies: Sequence[Any]) -> None:
    """Raise the first error among a transaction's replies (EXEC returns them, not raises)."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply


def _row(flat: Sequence[Any]) -> dict[bytes, Any]:
    """A RESP2 row (name, value, name, value...) as a dict keyed by the raw names."""
    pairs = iter(flat)
    return dict(zip(pairs, pairs, strict=True))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
