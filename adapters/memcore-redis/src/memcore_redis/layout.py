"""The two storage layouts, HASH and JSON: index schema, write commands and reads.

Both store the same fields under the same names (see :mod:`memcore_redis.encoding`), and
the index names each attribute after its field, so queries, RedisVL and redis-cli do not
care which one is used. HASH keeps the vector as a binary blob (compact); JSON keeps it
as an array of numbers (about four times the memory, but the documents are plain JSON).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
import orjson
from numpy.typing import NDArray

from memcore.domain import MemoryRecord, RecordKind
from memcore.domain.fields import KIND, Index, fields_of
from memcore.domain.records import RECORD_TYPES
from memcore_redis import legacy
from memcore_redis.documents import hash_fields, json_document
from memcore_redis.encoding import (
    INDEXED,
    ISO_SUFFIX,
    METADATA_TAGS,
    STORED_NAMES,
    TAG_SEPARATOR,
    VECTOR,
)
from memcore_redis.settings import RedisSettings

#: One Redis command: its name and arguments.
Command = tuple[Any, ...]
#: Attributes a cluster node sorts or groups by without reading keys.
_SORTABLE = frozenset({"user_id", "created_at"})
_FIELDS = (*STORED_NAMES, METADATA_TAGS)
# A write also drops the fields of the layout before (see memcore_redis.migrate): once a
# record is written in this layout, a migration never converts its old fields again.
_ALL_HASH_FIELDS = (*_FIELDS, *legacy.FIELDS)


@functools.lru_cache(maxsize=64)
def _others(written: tuple[str, ...], *, with_legacy: bool = True) -> tuple[str, ...]:
    """The hash fields a record may have that are not in ``written`` (``with_legacy``:
    those of the layout before as well).
    """
    names = _ALL_HASH_FIELDS if with_legacy else _FIELDS
    return tuple(name for name in names if name not in written)


_RAW_NAMES = frozenset(name.encode() for name in STORED_NAMES)


def _names_of(kinds: frozenset[RecordKind] | None) -> list[str]:
    """The stored names (:data:`STORED_NAMES`, in order) of a record of one of ``kinds``
    (any: ``None``) but ``user_id``.
    """
    types = [RECORD_TYPES[kind] for kind in kinds] if kinds else RECORD_TYPES.values()
    own = {KIND.name, *(spec.name for t in types for spec in fields_of(t))} - {"user_id"}
    return [name for name in STORED_NAMES if name.removesuffix(ISO_SUFFIX) in own]


@functools.lru_cache(maxsize=8)
def _hash_returned(kinds: frozenset[RecordKind] | None) -> tuple[str, ...]:
    # A time is read from its ISO twin, always written: RediSearch would return the
    # number rounded (see documents.hash_fields).
    return tuple(name for name in _names_of(kinds) if name + ISO_SUFFIX not in STORED_NAMES)


@functools.lru_cache(maxsize=8)
def _json_returned(kinds: frozenset[RecordKind] | None) -> tuple[str, ...]:
    return tuple(item for name in _names_of(kinds) for item in (f"$.{name}", "AS", name))


@dataclass(frozen=True)
class VectorSpec:
    """What the vector field looks like in the index."""

    dimension: int
    datatype: str  # FLOAT32 | FLOAT16
    algorithm: str  # HNSW | FLAT
    m: int
    ef_construction: int
    ef_runtime: int

    @classmethod
    def for_settings(cls, settings: RedisSettings, dimension: int) -> VectorSpec:
        """The vector field ``settings`` ask for, ``dimension`` numbers long."""
        return cls(
            dimension=dimension,
            datatype=settings.vector_datatype,
            algorithm=settings.vector_algorithm,
            m=settings.hnsw_m,
            ef_construction=settings.hnsw_ef_construction,
            ef_runtime=settings.hnsw_ef_runtime,
        )

    @property
    def dtype(self) -> type[np.floating[Any]]:
        """The numpy dtype of a stored vector."""
        return np.float16 if self.datatype == "FLOAT16" else np.float32

    def clause(self) -> list[str | int]:
        """The ``VECTOR`` clause of FT.CREATE after the attribute name."""
        params: list[str | int] = [
            "TYPE",
            self.datatype,
            "DIM",
            self.dimension,
            "DISTANCE_METRIC",
            "COSINE",
        ]
        if self.algorithm == "HNSW":
            params += [
                "M",
                self.m,
                "EF_CONSTRUCTION",
                self.ef_construction,
                "EF_RUNTIME",
                self.ef_runtime,
            ]
        return ["VECTOR", self.algorithm, len(params), *params]


class Layout(Protocol):
    """How one storage type writes and reads a record."""

    name: ClassVar[str]
    version: ClassVar[int]
    #: The query dialect of searches and listings that return records.
    dialect: ClassVar[int]

    def schema(self, key_prefix: str, vector: VectorSpec) -> list[str | int]:
        """The FT.CREATE arguments after the index name, for keys starting with ``key_prefix``."""
        ...

    def write(self, key: str, record: MemoryRecord, vector: NDArray[Any]) -> list[Command]:
        """The commands that replace ``key`` with ``record`` and its unit vector (run
        together, in a transaction if more than one).
        """
        ...

    def beside(self, key: str, record: MemoryRecord, vector: NDArray[Any]) -> list[Command]:
        """Like :meth:`write`, but leaving the fields of the layout before in place: a
        migration's backfill, while processes of the version before still read them.
        """
        ...

    def returned(self, kinds: frozenset[RecordKind] | None) -> tuple[str, ...]:
        """The RETURN / LOAD items that fetch the fields of a record of one of ``kinds`` (a
        filter's kind tag; ``None``: any kind) but its user's, which the reader knows (see
        :meth:`stored`).
        """
        ...

    def stored(self, row: dict[bytes, Any]) -> Mapping[bytes, Any]:
        """The fields in a search or listing row (names as raw bytes) fetched with
        :meth:`returned` and :attr:`dialect`, by name, as
        :func:`~memcore_redis.documents.record_from_fields` reads them.
        """
        ...

    def read(self, key: str, *, vector: bool) -> Command:
        """The command that reads ``key`` (and its vector if ``vector``); see :meth:`decode`."""
        ...

    def decode(
        self, reply: Any, vector: VectorSpec
    ) -> tuple[dict[str, Any], NDArray[np.float32] | None] | None:
        """The reply to :meth:`read`: fields by name and the vector; ``None`` if missing."""
        ...


@dataclass(frozen=True)
class _Fields:
    """What both layouts share: one attribute per indexed field, named after it.

    ``cluster_node``: the index keeps ``user_id`` and ``created_at`` SORTABLE, so that
    a cluster node can group and sort by them without reading keys: there a search
    module may read only keys of its index name's slot (valkey 9 refuses the others).
    """

    cluster_node: bool = False
    name: ClassVar[str]
    #: The stored format's version, in the schema metadata; a change refuses old data.
    version: ClassVar[int]
    dialect: ClassVar[int] = 2

    def field(self, name: str) -> list[str]:
        """How FT.CREATE names the stored field ``name`` (then its attribute type)."""
        return [name]

    def schema(self, key_prefix: str, vector: VectorSpec) -> list[str | int]:
        fields: list[str | int] = []
        for name, spec in INDEXED.items():
            sortable = ["SORTABLE"] if self.cluster_node and name in _SORTABLE else []
            if spec.about.index is Index.TAG:
                kind = ["TAG", "SEPARATOR", TAG_SEPARATOR, "CASESENSITIVE"]
            else:
                kind = ["NUMERIC"]
            fields += [*self.field(name), *kind, *sortable]
        metadata = [*self.field(METADATA_TAGS), "TAG", "SEPARATOR", TAG_SEPARATOR]
        return [
            "ON", self.name.upper(), "PREFIX", 1, key_prefix, "SCHEMA", *fields, *metadata,
            *self.field(VECTOR), *vector.clause(),
        ]  # fmt: skip


@dataclass(frozen=True)
class HashLayout(_Fields):
    """Records as Redis hashes; the vector is a little-endian binary blob."""

    name = "hash"
    version = 3  # 3: fields by name, literal tags; 2: one-letter fields, digests

    def write(self, key: str, record: MemoryRecord, vector: NDArray[Any]) -> list[Command]:
        fields = hash_fields(record)
        # A record leaves out empty fields, so what the one it replaces had must go.
        return [
            ("HSET", key, *fields, VECTOR, vector.tobytes()),
            ("HDEL", key, *_others(tuple(fields[::2]))),
            expiry(key, record),
        ]

    def beside(self, key: str, record: MemoryRecord, vector: NDArray[Any]) -> list[Command]:
        fields = hash_fields(record)
        return [
            ("HSET", key, *fields, VECTOR, vector.tobytes()),
            ("HDEL", key, *_others(tuple(fields[::2]), with_legacy=False)),
        ]

    def returned(self, kinds: frozenset[RecordKind] | None) -> tuple[str, ...]:
        return _hash_returned(kinds)

    def stored(self, row: dict[bytes, Any]) -> Mapping[bytes, Any]:
        return row  # the record's fields by name, and the distance, which it leaves alone

    def read(self, key: str, *, vector: bool) -> Command:
        return ("HMGET", key, *STORED_NAMES, *((VECTOR,) if vector else ()))

    def decode(
        self, reply: Any, vector: VectorSpec
    ) -> tuple[dict[str, Any], NDArray[np.float32] | None] | None:
        fields = dict(zip(STORED_NAMES, reply, strict=False))
        if fields["kind"] is None:
            return None
        if len(reply) == len(STORED_NAMES):  # read without the vector
            return fields, None
        return fields, np.frombuffer(reply[-1], dtype=vector.dtype).astype(np.float32)


@dataclass(frozen=True)
class JsonLayout(_Fields):
    """Records as RedisJSON documents with the hash's fields, in JSON types: the vector an
    array of numbers, ``created_at`` a number, metadata an object.

    Searches and listings use dialect 3, which returns each value as the JSON array of
    its matches: in dialect 2 a number comes back rounded to 12 digits, so ``created_at``
    would lose its microseconds.
    """

    name = "json"
    version = 4  # 4: fields by name, literal tags; 3: one-letter fields, digests
    dialect = 3

    def field(self, name: str) -> list[str]:
        path = f"$.{name}[*]" if name == METADATA_TAGS else f"$.{name}"
        return [path, "AS", name]

    def write(self, key: str, record: MemoryRecord, vector: NDArray[Any]) -> list[Command]:
        document = json_document(record)
        document[VECTOR] = np.ascontiguousarray(vector, dtype=np.float32)
        return [
            ("JSON.SET", key, "$", orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)),
            expiry(key, record),
        ]

    def beside(self, key: str, record: MemoryRecord, vector: NDArray[Any]) -> list[Command]:
        # A merge patch: a null removes what an earlier backfill of the record wrote.
        document: dict[str, Any] = dict.fromkeys(_FIELDS)
        document |= json_document(record)
        document[VECTOR] = np.ascontiguousarray(vector, dtype=np.float32)
        patch = orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)
        return [("JSON.MERGE", key, "$", patch)]

    def returned(self, kinds: frozenset[RecordKind] | None) -> tuple[str, ...]:
        return _json_returned(kinds)

    def stored(self, row: dict[bytes, Any]) -> Mapping[bytes, Any]:
        # Dialect 3 gives each field as the JSON array of its matches: all of a row's
        # arrays are parsed at once, as one JSON array of them.
        names = [name for name in row if name in _RAW_NAMES]
        found = orjson.loads(b"[" + b",".join([row[name] for name in names]) + b"]")
        return {name: matches[0] for name, matches in zip(names, found, strict=True)}

    def read(self, key: str, *, vector: bool) -> Command:
        names = (*STORED_NAMES, *((VECTOR,) if vector else ()))
        return ("JSON.GET", key, *(f"$.{name}" for name in names))

    def decode(
        self,
        reply: Any,
        vector: VectorSpec,  # noqa: ARG002 - JSON arrays need no dtype
    ) -> tuple[dict[str, Any], NDArray[np.float32] | None] | None:
        if reply is None:
            return None
        fields = {path[2:]: found[0] for path, found in orjson.loads(reply).items() if found}
        if "kind" not in fields:
            return None
        found = fields.pop(VECTOR, None)
        return fields, None if found is None else np.asarray(found, dtype=np.float32)


def expiry(key: str, record: MemoryRecord) -> Command:
    """The key's native expiry at the record's ``expires_at``, or none (it may have had one)."""
    if record.expires_at is None:
        return ("PERSIST", key)
    return ("PEXPIREAT", key, int(record.expires_at.timestamp() * 1000))


def layout_for(storage_type: str, *, cluster_node: bool = False) -> Layout:
    """The layout for a ``storage_type`` setting value (see :class:`_Fields`)."""
    layout = JsonLayout if storage_type == "json" else HashLayout
    return layout(cluster_node=cluster_node)
