"""The two storage layouts, HASH and JSON: index schema, write commands and reads.

Both store the same fields (``u k t c v d``) and index the same attribute names
(``user_id``, ``kind``, ``outcome``, ``task``, ``metadata``, ``created_at``, ``vector``),
so queries do not care which one is used. HASH keeps the vector as a binary blob
(compact); JSON keeps it as an array of numbers (about four times the memory, but the
documents are readable JSON).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol

import numpy as np
import orjson
from numpy.typing import NDArray

from memcore.domain import MemoryRecord
from memcore_redis.encoding import created_number, document_json, tag_fields

# Attribute name -> RediSearch type clause; metadata holds several tokens.
_TAGS = ("user_id", "kind", "outcome", "task", "metadata")
DOC_FIELD = "doc"
#: One Redis command: its name and arguments.
Command = tuple[Any, ...]
#: The names a search or listing returns each record's :class:`Stored` parts under.
CREATED_FIELD = "created"
TOKENS_FIELD = "tokens"
#: A row's :class:`Stored` parts, read by their raw (bytes) names in one call.
_RETURNED_PARTS = operator.itemgetter(
    *(name.encode() for name in (DOC_FIELD, CREATED_FIELD, TOKENS_FIELD))
)
_SHORT = {
    "user_id": "u",
    "kind": "k",
    "outcome": "k",  # kind and outcome tokens share a field too (o... never equals k...)
    "task": "t",
    "metadata": "t",  # task and metadata tokens share a field; their digests never meet
    "created_at": "c",
    "vector": "v",
    DOC_FIELD: "d",
}


@dataclass(frozen=True)
class VectorSpec:
    """What the vector field looks like in the index."""

    dimension: int
    datatype: str  # FLOAT32 | FLOAT16
    algorithm: str  # HNSW | FLAT
    m: int
    ef_construction: int
    ef_runtime: int

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


class Stored(NamedTuple):
    """A record as read back: its document, numeric ``created_at`` (text or a number) and
    kind/outcome tokens: the arguments of ``encoding.record_from_stored`` after the id.
    """

    doc: Any
    created: Any
    tokens: Any


class Layout(Protocol):
    """How one storage type writes and reads a record."""

    name: ClassVar[str]
    version: ClassVar[int]
    #: The query dialect of searches and listings that return records.
    dialect: ClassVar[int]

    def schema(self, key_prefix: str, vector: VectorSpec) -> list[str | int]:
        """The FT.CREATE arguments after the index name, for keys starting with ``key_prefix``."""
        ...

    def write(self, key: str, record: MemoryRecord, vector: NDArray[Any]) -> Command:
        """The command that replaces ``key`` with ``record`` and its unit vector."""
        ...

    def returned(self) -> list[str]:
        """The RETURN / LOAD items that fetch a :class:`Stored` (see :meth:`stored`)."""
        ...

    def stored(self, row: dict[bytes, Any]) -> Stored:
        """The :class:`Stored` in a search or listing row (names as raw bytes) fetched
        with :meth:`returned` and :attr:`dialect`.
        """
        ...

    def read(self, key: str, *, vector: bool) -> Command:
        """The command that reads ``key`` (and its vector if ``vector``); see :meth:`decode`."""
        ...

    def decode(
        self, reply: Any, vector: VectorSpec
    ) -> tuple[Stored, NDArray[np.float32] | None] | None:
        """The reply to :meth:`read`, decoded; ``None`` if the record is missing."""
        ...


@dataclass(frozen=True)
class _Fields:
    """What both layouts share: the fields ``u k t c v d`` under one-letter names (the
    index gives them their attribute names with ``AS``; memory per record counts), where
    tokens that can never be confused share a field indexed twice: kind and outcome in
    ``k`` (``ki``/``kr`` and ``o<outcome>``), task and metadata in ``t`` (digests from
    different domains).

    ``cluster_node``: the index keeps ``user_id`` and ``created_at`` SORTABLE, so that
    a cluster node can group and sort by them without reading keys: there a search
    module may read only keys of its index name's slot (valkey 9 refuses the others).
    """

    cluster_node: bool = False
    name: ClassVar[str]
    #: The stored format's version, in the schema metadata; a change refuses old data.
    version: ClassVar[int]
    dialect: ClassVar[int] = 2
    #: What follows ``TAG`` in a tag attribute's clause.
    tag_options: ClassVar[tuple[str, ...]] = ()

    def field(self, short: str) -> str:
        """How FT.CREATE names the stored field ``short``."""
        return short

    def schema(self, key_prefix: str, vector: VectorSpec) -> list[str | int]:
        sortable = ["SORTABLE"] if self.cluster_node else []
        fields: list[str | int] = []
        for tag in _TAGS:
            fields += [self.field(_SHORT[tag]), "AS", tag, "TAG", *self.tag_options]
            if tag == "user_id":
                fields += ["CASESENSITIVE", *sortable]
        return [
            "ON",
            self.name.upper(),
            "PREFIX",
            1,
            key_prefix,
            "SCHEMA",
            *fields,
            self.field(_SHORT["created_at"]),
            "AS",
            "created_at",
            "NUMERIC",
            *sortable,
            self.field(_SHORT["vector"]),
            "AS",
            "vector",
            *vector.clause(),
        ]


@dataclass(frozen=True)
class HashLayout(_Fields):
    """Records as Redis hashes; the vector is a little-endian binary blob."""

    name = "hash"
    version = 2  # 2: plain user tags, content-only documents, 64-bit digests

    def write(self, key: str, record: MemoryRecord, vector: NDArray[Any]) -> Command:
        user, kinds, digests = tag_fields(record)
        # Every record writes the same fields, so HSET alone replaces a record whole.
        return (
            "HSET",
            key,
            _SHORT["user_id"],
            user,
            _SHORT["kind"],
            kinds,
            _SHORT["task"],
            digests,
            _SHORT["created_at"],
            created_number(record),
            _SHORT["vector"],
            vector.tobytes(),
            _SHORT[DOC_FIELD],
            document_json(record),
        )

    def returned(self) -> list[str]:
        # The raw fields: a NUMERIC attribute comes back rounded to 12 digits.
        return [
            *(_SHORT[DOC_FIELD], "AS", DOC_FIELD),
            *(_SHORT["created_at"], "AS", CREATED_FIELD),
            *(_SHORT["kind"], "AS", TOKENS_FIELD),
        ]

    def stored(self, row: dict[bytes, Any]) -> Stored:
        return Stored(*_RETURNED_PARTS(row))

    def read(self, key: str, *, vector: bool) -> Command:
        fields = (_SHORT[DOC_FIELD], _SHORT["created_at"], _SHORT["kind"])
        return ("HMGET", key, *fields, *((_SHORT["vector"],) if vector else ()))

    def decode(
        self, reply: Any, vector: VectorSpec
    ) -> tuple[Stored, NDArray[np.float32] | None] | None:
        if reply[0] is None:
            return None
        stored = Stored(doc=reply[0], created=reply[1], tokens=reply[2])
        if len(reply) == 3:  # noqa: PLR2004 - read without the vector
            return stored, None
        return stored, np.frombuffer(reply[3], dtype=vector.dtype).astype(np.float32)


_JSON_PATHS = {short: f"$.{short}" for short in _SHORT.values()}


@dataclass(frozen=True)
class JsonLayout(_Fields):
    """Records as RedisJSON documents with the hash's fields: the vector is an array of
    numbers, ``created_at`` a number and the rest strings (``d`` is the same JSON text as
    the hash's: a nested object would cost about 1% more memory per record).

    Searches and listings use dialect 3, which returns each value as the JSON array of
    its matches: in dialect 2 a number comes back rounded to 12 digits, so ``created_at``
    would lose its microseconds.
    """

    name = "json"
    version = 3  # 3: the hash's fields; 2: long names, d as an object, tags apart
    dialect = 3
    tag_options = ("SEPARATOR", ",")

    def field(self, short: str) -> str:
        return _JSON_PATHS[short]

    def write(self, key: str, record: MemoryRecord, vector: NDArray[Any]) -> Command:
        user, kinds, digests = tag_fields(record)
        document = {
            _SHORT["user_id"]: user,
            _SHORT["kind"]: kinds,
            _SHORT["task"]: digests,
            _SHORT["created_at"]: record.created_at.timestamp(),
            _SHORT["vector"]: np.ascontiguousarray(vector, dtype=np.float32),
            _SHORT[DOC_FIELD]: document_json(record).decode(),
        }
        return ("JSON.SET", key, "$", orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY))

    def returned(self) -> list[str]:
        return [
            *(_JSON_PATHS["d"], "AS", DOC_FIELD),
            *(_JSON_PATHS["c"], "AS", CREATED_FIELD),
            *(_JSON_PATHS["k"], "AS", TOKENS_FIELD),
        ]

    def stored(self, row: dict[bytes, Any]) -> Stored:
        return Stored(*(orjson.loads(value)[0] for value in _RETURNED_PARTS(row)))

    def read(self, key: str, *, vector: bool) -> Command:
        paths = (
            *(_JSON_PATHS[short] for short in "dck"),
            *((_JSON_PATHS["v"],) if vector else ()),
        )
        return ("JSON.GET", key, *paths)

    def decode(
        self,
        reply: Any,
        vector: VectorSpec,  # noqa: ARG002 - JSON arrays need no dtype
    ) -> tuple[Stored, NDArray[np.float32] | None] | None:
        if reply is None:
            return None
        parts = orjson.loads(reply)
        docs, created, tokens, vectors = (parts.get(_JSON_PATHS[short]) for short in "dckv")
        if not docs or not created or not tokens:
            return None
        stored = Stored(docs[0], created[0], tokens[0])
        return stored, None if not vectors else np.asarray(vectors[0], dtype=np.float32)


def layout_for(storage_type: str, *, cluster_node: bool = False) -> Layout:
    """The layout for a ``storage_type`` setting value (see :class:`_Fields`)."""
    layout = JsonLayout if storage_type == "json" else HashLayout
    return layout(cluster_node=cluster_node)
