"""RedisStore: the :class:`~memcore.ports.MemoryStore` on Redis Stack (store name ``redis``).

One ``redis.asyncio`` connection pool per store, closed by :meth:`RedisStore.aclose`;
its connections never re-send a command by themselves, and each new one checks the
server did not lose its data (:mod:`memcore_redis.durability`).
Every Redis call runs inside :func:`~memcore_redis.errors.map_redis_errors`.
Round trips: an upsert batch is one MULTI/EXEC pipeline (records plus an index check);
a search is one FT.SEARCH with the filters inside the KNN pre-filter; ``get``,
``delete`` and ``count`` are one round trip each.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from redis.asyncio import Redis

from memcore.domain import (
    EmbeddingSchema,
    HealthCheck,
    MemoryRecord,
    Page,
    SearchFilter,
    SearchHit,
)
from memcore.errors import StoreError, ValidationError
from memcore.ports import Vectors
from memcore.settings import MemcoreSettings
from memcore_redis.client import connection_pool
from memcore_redis.commands import call
from memcore_redis.durability import DurabilityGuard
from memcore_redis.encoding import (
    normalized,
    record_from_document,
    record_key,
    user_from_tag,
)
from memcore_redis.errors import BACKEND, map_redis_errors
from memcore_redis.health import HealthProbe
from memcore_redis.layout import DOC_FIELD, VectorSpec, layout_for
from memcore_redis.query import (
    DISTANCE,
    Planner,
    decode_cursor,
    encode_cursor,
    filter_query,
    knn_query,
)
from memcore_redis.schema import SchemaKeeper
from memcore_redis.settings import RedisSettings, load_redis_settings


class RedisStore:
    """Memories in Redis Stack: one RediSearch index over ``<key_prefix>:{<user>}:<id>`` keys.

    Build it with :meth:`from_settings` (reads ``MEMCORE_REDIS_*``) or directly from a
    :class:`~memcore_redis.RedisSettings`. Nothing connects before the first call.
    """

    backend = BACKEND

    def __init__(self, settings: RedisSettings | None = None) -> None:
        self.settings = settings if settings is not None else load_redis_settings()
        self._guard = DurabilityGuard(self.settings.key_prefix)
        self._pool = connection_pool(self.settings, redis_connect_func=self._guard.on_connect)
        self._client: Redis = Redis(connection_pool=self._pool)
        self._layout = layout_for(self.settings.storage_type)
        self._index = self.settings.index
        self._prefix = self.settings.key_prefix
        self._keeper = SchemaKeeper(
            self._client, key_prefix=self._prefix, index=self._index, layout=self._layout
        )
        self._probe = HealthProbe(self._client, self._index, self._keeper)
        self._planner = Planner(self.settings.hybrid_policy, self.settings.adhoc_max_candidates)
        self._schema: EmbeddingSchema | None = None
        self._vector: VectorSpec | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, settings: MemcoreSettings) -> RedisStore:  # noqa: ARG003
        """Build from ``MEMCORE_REDIS_*`` (the core settings hold nothing for Redis)."""
        return cls(load_redis_settings())

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
        self._schema, self._vector = schema, vector

    async def upsert(self, user_id: str, records: Sequence[MemoryRecord], vectors: Vectors) -> None:
        spec = self._require("upsert")
        rows = _checked_rows(user_id, records, vectors, spec)
        if not records:
            return
        keys = [record_key(self._prefix, user_id, record.id) for record in records]
        distinct = list(dict.fromkeys(keys))
        with map_redis_errors("upsert", user_id):
            # MULTI/EXEC makes a batch all-or-nothing; one write is atomic without it.
            # Either way it is one round trip, index check included.
            atomic = len(records) > 1
            async with self._client.pipeline(transaction=atomic) as pipe:
                for key, record, row in zip(keys, records, rows, strict=True):
                    self._layout.write(pipe, key, record, row)
                pipe.execute_command(*self._indexed_query(user_id, distinct, count_only=True))
                replies = await pipe.execute()
        if int(replies[-1][0]) != len(distinct):
            await self._remove_unindexed(user_id, distinct)

    async def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        self._require("get")
        if not ids:
            return []
        keys = [record_key(self._prefix, user_id, record_id) for record_id in ids]
        with map_redis_errors("get", user_id):
            docs = await self._fetch_docs(keys)
        return [record_from_document(user_id, doc) for doc in docs if doc is not None]

    async def get_with_vectors(
        self, user_id: str, ids: Sequence[str]
    ) -> tuple[list[MemoryRecord], Vectors]:
        spec = self._require("get_with_vectors")
        found: list[tuple[MemoryRecord, Any]] = []
        if ids:
            with map_redis_errors("get_with_vectors", user_id):
                async with self._client.pipeline(transaction=False) as pipe:
                    for record_id in ids:
                        self._layout.read(pipe, record_key(self._prefix, user_id, record_id))
                    replies = await pipe.execute()
            for reply in replies:
                decoded = self._layout.decode(reply, spec)
                if decoded is not None:
                    found.append((record_from_document(user_id, decoded[0]), decoded[1]))
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
        with map_redis_errors("delete", user_id):
            return int(await self._client.delete(*keys))

    async def search(
        self, user_id: str, vector: Vectors, k: int, filters: SearchFilter
    ) -> list[SearchHit[MemoryRecord]]:
        spec = self._require("search")
        try:
            if np.size(vector) != spec.dimension:
                msg = f"must hold {spec.dimension} values, got {np.size(vector)}"
                raise ValueError(msg)  # noqa: TRY301 - one message path for every bad vector
            query = normalized(np.asarray(vector).reshape(1, -1), spec.dtype)[0]
        except ValueError as exc:
            raise ValidationError(
                "embedding", str(exc), operation="search", backend=BACKEND, user_id=user_id
            ) from exc
        prefilter = filter_query(user_id, filters)
        policy, refresh = self._planner.choose(prefilter)
        if policy == "BATCHES" and spec.algorithm != "HNSW":
            policy = "ADHOC_BF"  # batches walk an HNSW graph; FLAT is brute force anyway
        params: list[Any] = ["k", k, "vec", query.tobytes()]
        command = [
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
            len(self._layout.return_doc()) + 1,
            *self._layout.return_doc(),
            DISTANCE,
            "DIALECT",
            2,
        ]
        with map_redis_errors("search", user_id):
            if refresh:
                async with self._client.pipeline(transaction=False) as pipe:
                    pipe.execute_command(*self._count_query(prefilter))
                    pipe.execute_command(*command)
                    counted, reply = await pipe.execute()
                self._planner.learn(prefilter, int(counted[0]))
            else:
                reply = await call(self._client, *command)
        hits = []
        for fields in reply[2::2]:
            values = _pairs(fields)
            score = 1.0 - float(values[DISTANCE])
            record = record_from_document(user_id, values[DOC_FIELD])
            hits.append(SearchHit(record=record, score=min(1.0, max(-1.0, score))))
        return hits

    async def list(
        self, user_id: str, filters: SearchFilter, limit: int, cursor: str | None = None
    ) -> Page[MemoryRecord]:
        self._require("list")
        query = filter_query(user_id, filters)
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
        load = self._layout.return_doc()
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
            2,
        ]
        with map_redis_errors("list", user_id):
            reply = await call(self._client, *command)
        records = [record_from_document(user_id, _pairs(row)[DOC_FIELD]) for row in reply[1:]]
        items = tuple(records[:limit])
        if len(records) <= limit:
            return Page(items=items)
        last = items[-1]
        return Page(items=items, next_cursor=encode_cursor(last.created_at.timestamp(), last.id))

    async def count(self, user_id: str, filters: SearchFilter) -> int:
        self._require("count")
        prefilter = filter_query(user_id, filters)
        with map_redis_errors("count", user_id):
            reply = await call(self._client, *self._count_query(prefilter))
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
            keys = (await call(self._client, *find))[1:]
            while keys:
                # Delete this batch and look for the next one in the same round trip.
                async with self._client.pipeline(transaction=False) as pipe:
                    pipe.delete(*keys)
                    pipe.execute_command(*find)
                    deleted, found = await pipe.execute()
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
        await self._client.aclose()
        await self._pool.aclose()

    def _require(self, operation: str) -> VectorSpec:
        if self._vector is None:
            raise StoreError(
                "call ensure_schema() before using the store", operation=operation, backend=BACKEND
            )
        return self._vector

    def _count_query(self, prefilter: str) -> builtins.list[Any]:
        return ["FT.SEARCH", self._index, prefilter, "NOCONTENT", "LIMIT", 0, 0, "DIALECT", 2]

    def _indexed_query(
        self, user_id: str, keys: Sequence[str], *, count_only: bool
    ) -> builtins.list[Any]:
        """Which of ``keys`` the index holds (RediSearch skips what it cannot index)."""
        limit = 0 if count_only else len(keys)
        return [
            "FT.SEARCH",
            self._index,
            filter_query(user_id, SearchFilter()),
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

    async def _fetch_docs(self, keys: Sequence[str]) -> builtins.list[Any]:
        if self._layout.name == "json":
            replies = await call(self._client, "JSON.MGET", *keys, self._layout.stored_doc_field)
            return [None if reply is None else json.loads(reply)[0] for reply in replies]
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(key, self._layout.stored_doc_field)
            return list(await pipe.execute())

    async def _remove_unindexed(self, user_id: str, keys: Sequence[str]) -> None:
        """Delete what was written but not indexed, then raise: never stored-but-unsearchable."""
        with map_redis_errors("upsert", user_id):
            reply = await call(self._client, *self._indexed_query(user_id, keys, count_only=False))
            indexed = {_text(key) for key in reply[1:]}
            failed = [key for key in keys if key not in indexed]
            if failed:
                await self._client.delete(*failed)
        raise StoreError(
            f"{len(failed)} of {len(keys)} records were written but RediSearch could not index "
            f"them in {self._index!r} (does the index still match the schema?); they were removed",
            operation="upsert",
            backend=BACKEND,
            user_id=user_id,
        )


def _checked_rows(
    user_id: str, records: Sequence[MemoryRecord], vectors: Vectors, spec: VectorSpec
) -> Any:
    """The rows as stored, validated first: RediSearch silently skips bad vectors."""
    context = {"operation": "upsert", "backend": BACKEND, "user_id": user_id}
    array = np.asarray(vectors)
    if array.shape != (len(records), spec.dimension):
        raise ValidationError(
            "embedding",
            f"shape must be ({len(records)}, {spec.dimension}), got {array.shape}",
            **context,
        )
    if array.dtype.kind != "f":
        raise ValidationError("embedding", "must hold floating-point values", **context)
    for record in records:
        if record.user_id != user_id:
            raise ValidationError(
                "user_id", "every record must belong to the user written for", **context
            )
    try:
        return normalized(array, spec.dtype)
    except ValueError as exc:
        raise ValidationError("embedding", str(exc), **context) from exc


def _pairs(flat: Sequence[Any]) -> dict[str, Any]:
    return {_text(name): value for name, value in zip(flat[::2], flat[1::2], strict=True)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
