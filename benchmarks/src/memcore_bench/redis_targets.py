"""The Redis side of the benchmark: memcore's RedisStore (through the service as
``connect()`` builds it, and bare), RedisVL, and the redis-py floor.

Each target gets its own embedded server (valkey-server + RediSearch + RedisJSON from
``agent-memcore-redis[server]``), so ``used_memory`` measures one dataset even while the
targets' operations are interleaved. All of them index the same attributes with the same
vector parameters (HNSW, M 16, EF_CONSTRUCTION 200, cosine, float32), and answer the same
query: this user's interventions with outcome ``task_completed``, top ``k``. Each storage
type is its own family: memcore's JSON layout is compared with RedisVL and the floor on
JSON documents, its hash layout with theirs on hashes.

:mod:`.suite` imports it only when agent-memcore-redis is installed.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import redis.asyncio as aioredis
from numpy.typing import NDArray
from redis.typing import EncodableT, FieldT

from memcore.domain import Intervention, MemoryRecord, Reflection
from memcore_bench.targets import REDIS, BareStoreTarget, MemcoreTarget, state_directory
from memcore_bench.workload import SEARCH_OUTCOME, Query, Workload
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.commands import call
from memcore_redis.testing import EmbeddedRedis, ServerNotAvailableError, find_server_files

FLOOR_PREFIX = "floor:"
PIPELINE_BATCH = 500  # one pipeline of a whole dataset times out on the socket
RVL_PREFIX = "rvl"
RETURNED = ("user_id", "kind", "outcome", "task", "created_at", "text", "context", "metadata")
HNSW = {"M": 16, "EF_CONSTRUCTION": 200, "EF_RUNTIME": 20}


def family(storage_type: str) -> str:
    """The report compares targets of one family: one per storage type."""
    return REDIS if storage_type == "hash" else f"{REDIS} {storage_type}"


def _label(name: str, storage_type: str) -> str:
    return name if storage_type == "hash" else f"{name} {storage_type.upper()}"


def _fields(record: MemoryRecord, vector: Any) -> dict[FieldT, EncodableT]:
    """The floor's and RedisVL's record: the same content memcore stores, field by field,
    and metadata as ``key:value`` tags too, filterable as in memcore's schema.

    ``vector`` goes in as given: bytes for a hash, a numpy array or list for JSON.
    """
    common: dict[FieldT, EncodableT] = {
        "user_id": record.user_id,
        "kind": record.kind.value,
        "created_at": record.created_at.timestamp(),
        "metadata": json.dumps(dict(record.metadata)),
        "metadata_tags": ",".join(f"{key}:{value}" for key, value in record.metadata.items()),
        "vec": vector,
    }
    if isinstance(record, Intervention):
        return {
            **common,
            "outcome": record.outcome.value,
            "task": record.task,
            "text": record.intervention_text,
            "context": record.context,
        }
    return {**common, "text": record.text, "source_ids": ",".join(record.source_ids)}


async def used_memory(raw: aioredis.Redis) -> int:
    """``used_memory`` once the server is done freeing (lazily) what it let go of, and the
    figure holds still (within 4 KB over 0.25 s); the last figure after a minute.
    """
    last = -1
    for _ in range(240):
        info = await raw.info("memory")
        used = int(info["used_memory"])
        if int(info.get("lazyfree_pending_objects", 0)) == 0 and abs(used - last) < 4096:
            return used
        last = used
        await asyncio.sleep(0.25)
    return last


async def index_info(raw: aioredis.Redis, index: str) -> dict[bytes, Any]:
    """``FT.INFO`` of ``index``, name -> value."""
    reply = await call(raw, "FT.INFO", index)
    return dict(zip(reply[::2], reply[1::2], strict=True))


async def indexes_built(raw: aioredis.Redis, indexes: Sequence[str] | None = None) -> None:
    """Wait until each of ``indexes`` (every index on the server by default) has scanned
    the keyspace: until then memcore's reads are ``partial``, which no steady state is.
    """
    names = await call(raw, "FT._LIST") if indexes is None else indexes
    for index in names:
        while True:
            if not int((await index_info(raw, index))[b"indexing"]):
                break
            await asyncio.sleep(0.1)


def _escape_tag(value: str) -> str:
    return "".join(f"\\{char}" if not char.isalnum() else char for char in value)


class _ServerTarget:
    """A target that owns an embedded server and a raw client on it."""

    def __init__(self) -> None:
        self.server = EmbeddedRedis().start()
        self.url = self.server.url
        self.raw = aioredis.Redis.from_url(self.url, protocol=2)

    async def used_bytes(self) -> int | None:
        return await used_memory(self.raw)

    async def _close_server(self) -> None:
        await self.raw.aclose()
        self.server.stop()


class MemcoreRedisTarget(_ServerTarget, MemcoreTarget):
    """memcore's RedisStore (``storage_type`` hash or json) in the service that
    ``connect(store="redis", redis={"storage_type": ...})`` builds.
    """

    def __init__(self, storage_type: str) -> None:
        _ServerTarget.__init__(self)
        state = state_directory()  # where connect()'s store remembers the data epoch
        settings = RedisSettings(url=self.url, storage_type=storage_type)
        store = RedisStore(settings, state_dir=Path(state.name))
        name = f"memcore Redis {storage_type.upper()} service"
        MemcoreTarget.__init__(self, name, family(storage_type), store, state)

    async def used_bytes(self) -> int | None:
        return await _ServerTarget.used_bytes(self)

    async def aclose(self) -> None:
        try:
            await MemcoreTarget.aclose(self)
        finally:
            await self._close_server()


class BareRedisStoreTarget(_ServerTarget, BareStoreTarget):
    """memcore's RedisStore (``storage_type`` hash or json) called directly."""

    def __init__(self, storage_type: str) -> None:
        _ServerTarget.__init__(self)
        store = RedisStore(RedisSettings(url=self.url, storage_type=storage_type))
        name = f"memcore Redis {storage_type.upper()} bare store"
        BareStoreTarget.__init__(self, name, family(storage_type), store)

    async def used_bytes(self) -> int | None:
        return await _ServerTarget.used_bytes(self)

    async def aclose(self) -> None:
        try:
            await BareStoreTarget.aclose(self)
        finally:
            await self._close_server()


class RedisFloor(_ServerTarget):
    """Raw redis-py: pipelined HSETs (or JSON.SETs of orjson documents) and one bare
    FT.SEARCH of the same shape.
    """

    role = "floor"

    def __init__(self, storage_type: str = "hash") -> None:
        super().__init__()
        self.storage_type = storage_type
        self.name = _label("redis-py floor", storage_type)
        self.family = family(storage_type)

    async def setup(self, workload: Workload) -> None:
        on_json = self.storage_type == "json"
        hnsw = (item for pair in HNSW.items() for item in pair)
        vector = ["HNSW", 12, "TYPE", "FLOAT32", "DIM", workload.dimension,
                  "DISTANCE_METRIC", "COSINE", *hnsw]  # fmt: skip
        attributes: list[tuple[str, list[Any]]] = [
            *((tag, ["TAG"]) for tag in ("user_id", "kind", "outcome", "task")),
            ("metadata_tags", ["TAG", "SEPARATOR", ","]),
            ("created_at", ["NUMERIC"]),
            ("vec", ["VECTOR", *vector]),
        ]
        schema: list[Any] = []
        for name, kind in attributes:
            schema += [f"$.{name}", "AS", name, *kind] if on_json else [name, *kind]
        storage = "JSON" if on_json else "HASH"
        await call(
            self.raw,
            "FT.CREATE", "floor-idx", "ON", storage, "PREFIX", 1, FLOOR_PREFIX, "SCHEMA", *schema,
        )  # fmt: skip

    def _command(self, record: MemoryRecord, vector: NDArray[np.float32]) -> list[Any]:
        key = f"{FLOOR_PREFIX}{record.id}"
        if self.storage_type == "json":
            document = orjson.dumps(_fields(record, vector), option=orjson.OPT_SERIALIZE_NUMPY)
            return ["JSON.SET", key, "$", document]
        fields = _fields(record, vector.tobytes())
        return ["HSET", key, *(item for pair in fields.items() for item in pair)]

    async def _write(self, records: Sequence[MemoryRecord], vectors: Any) -> None:
        async with self.raw.pipeline(transaction=False) as pipe:
            for record, vector in zip(records, vectors, strict=True):
                pipe.execute_command(*self._command(record, vector))
            await pipe.execute()

    async def ingest(self, user: str, records: Sequence[Intervention], vectors: Any) -> None:  # noqa: ARG002 - the user is in each record
        await self._write(records, vectors)

    async def load_reflections(self, workload: Workload) -> None:
        for start in range(0, len(workload.reflections), PIPELINE_BATCH):
            rows = slice(start, start + PIPELINE_BATCH)
            await self._write(workload.reflections[rows], workload.reflection_vectors[rows])

    async def write_one(self, record: Intervention, vector: NDArray[np.float32]) -> None:
        await call(self.raw, *self._command(record, vector))

    async def knn(self, query: Query, k: int) -> list[str]:
        prefilter = (
            f"@user_id:{{{_escape_tag(query.user)}}} @kind:{{intervention}} "
            f"@outcome:{{{SEARCH_OUTCOME.value}}}"
        )
        reply = await call(
            self.raw,
            "FT.SEARCH", "floor-idx", f"({prefilter})=>[KNN {k} @vec $v]",
            "PARAMS", 2, "v", query.vector.tobytes(), "RETURN", len(RETURNED), *RETURNED,
            "LIMIT", 0, k, "DIALECT", 2,
        )  # fmt: skip
        return [key.decode().removeprefix(FLOOR_PREFIX) for key in reply[1::2]]

    async def health(self) -> bool:
        await self.raw.ping()
        return True

    async def aclose(self) -> None:
        await self._close_server()


class RedisVLTarget(_ServerTarget):
    """RedisVL's ``AsyncSearchIndex`` with the floor's schema: what a user would pick instead."""

    role = "redisvl"

    def __init__(self, storage_type: str = "hash") -> None:
        super().__init__()
        self.storage_type = storage_type
        self.name = _label("RedisVL", storage_type)
        self.family = family(storage_type)
        self.index: Any = None

    async def setup(self, workload: Workload) -> None:
        from redisvl.index import AsyncSearchIndex  # noqa: PLC0415 - optional peer

        schema = {
            "index": {"name": "rvl-idx", "prefix": RVL_PREFIX, "storage_type": self.storage_type},
            "fields": [
                *(
                    {"name": tag, "type": "tag"}
                    for tag in ("user_id", "kind", "outcome", "task", "metadata_tags")
                ),
                {"name": "created_at", "type": "numeric"},
                {
                    "name": "vec",
                    "type": "vector",
                    "attrs": {
                        "dims": workload.dimension,
                        "algorithm": "hnsw",
                        "distance_metric": "cosine",
                        "datatype": "float32",
                        "m": HNSW["M"],
                        "ef_construction": HNSW["EF_CONSTRUCTION"],
                        "ef_runtime": HNSW["EF_RUNTIME"],
                    },
                },
            ],
        }
        self.index = AsyncSearchIndex.from_dict(schema, redis_client=self.raw)
        await self.index.create(overwrite=True)

    async def _load(self, records: Sequence[MemoryRecord], vectors: Any) -> None:
        # RedisVL takes a hash's vector as bytes and a JSON document's as a list of floats.
        as_value = np.ndarray.tobytes if self.storage_type == "hash" else np.ndarray.tolist
        docs = [
            {"id": record.id, **_fields(record, as_value(vector))}
            for record, vector in zip(records, vectors, strict=True)
        ]
        await self.index.load(docs, id_field="id")

    async def ingest(self, user: str, records: Sequence[Intervention], vectors: Any) -> None:  # noqa: ARG002 - the user is in each record
        await self._load(records, vectors)

    async def load_reflections(self, workload: Workload) -> None:
        reflections: Sequence[Reflection] = workload.reflections
        await self._load(reflections, workload.reflection_vectors)

    async def write_one(self, record: Intervention, vector: NDArray[np.float32]) -> None:
        await self._load([record], vector[None, :])

    async def knn(self, query: Query, k: int) -> list[str]:
        from redisvl.query import VectorQuery  # noqa: PLC0415 - optional peer
        from redisvl.query.filter import Tag  # noqa: PLC0415

        matching = (
            (Tag("user_id") == query.user)
            & (Tag("kind") == "intervention")
            & (Tag("outcome") == SEARCH_OUTCOME.value)
        )
        vector_query = VectorQuery(
            query.vector.tobytes(),
            "vec",
            return_fields=list(RETURNED),
            filter_expression=matching,
            num_results=k,
        )
        docs = await self.index.query(vector_query)
        return [str(doc["id"]).removeprefix(f"{RVL_PREFIX}:") for doc in docs]

    async def health(self) -> bool:
        return False

    async def aclose(self) -> None:
        await self._close_server()


def redis_targets(*, with_json: bool, with_redisvl: bool) -> list[Any]:
    """The Redis targets to run, each on its own fresh server: per storage type the
    floor, memcore's service, memcore's bare store and (if installed) RedisVL.
    """
    makers: list[Callable[[], Any]] = []
    for storage_type in ("hash", "json") if with_json else ("hash",):
        makers += [
            functools.partial(RedisFloor, storage_type),
            functools.partial(MemcoreRedisTarget, storage_type),
            functools.partial(BareRedisStoreTarget, storage_type),
        ]
        if with_redisvl:
            makers.append(functools.partial(RedisVLTarget, storage_type))
    targets: list[Any] = []
    try:
        for make in makers:
            targets.append(make())  # noqa: PERF401 - keep what started if one fails
    except BaseException:
        for target in targets:  # servers already started must not outlive a failed start
            target.server.stop()
        raise
    return targets


def server_unavailable() -> str | None:
    """Why no embedded server can be started here, or ``None``."""
    try:
        find_server_files()
    except ServerNotAvailableError as exc:
        return f"Redis not measured: {exc}"
    return None
