"""The two storage layouts, HASH and JSON: index schema, write commands and reads.

Both index the same attribute names (``user_id``, ``kind``, ``outcome``, ``task``,
``metadata``, ``created_at``, ``vector``), so queries do not care which one is used.
HASH keeps the vector as a binary blob (compact); JSON keeps it as an array of numbers
(about four times the memory, but the documents are readable JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson
from numpy.typing import NDArray

from memcore.domain import MemoryRecord
from memcore_redis.encoding import (
    created_number,
    document,
    document_json,
    index_fields,
)

# Attribute name -> RediSearch type clause; metadata holds several tokens.
_TAGS = ("user_id", "kind", "outcome", "task", "metadata")
DOC_FIELD = "doc"
#: One Redis command: its name and arguments.
Command = tuple[Any, ...]
#: The names a search or listing returns each record's :class:`Stored` parts under.
CREATED_FIELD = "created"
TOKENS_FIELD = "tokens"
_DOC_KEY, _CREATED_KEY, _TOKENS_KEY = (
    name.encode() for name in (DOC_FIELD, CREATED_FIELD, TOKENS_FIELD)
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


@dataclass(frozen=True)
class Stored:
    """A record as read back: its document, numeric ``created_at`` (``None`` where the
    document holds it) and kind/outcome tokens (see ``encoding.record_from_stored``).
    """

    doc: Any
    created: Any
    tokens: Any

    @staticmethod
    def parts(row: dict[bytes, Any]) -> tuple[Any, Any, Any]:
        """``(doc, created, tokens)`` of a search or listing row fetched with
        :meth:`Layout.returned` (names as raw bytes).
        """
        return row[_DOC_KEY], row.get(_CREATED_KEY), row[_TOKENS_KEY]


class Layout(Protocol):
    """How one storage type writes and reads a record."""

    name: str

    def schema(self, key_prefix: str, vector: VectorSpec) -> list[str | int]:
        """The FT.CREATE arguments after the index name, for keys starting with ``key_prefix``."""
        ...

    def write(self, key: str, record: MemoryRecord, vector: NDArray[Any]) -> Command:
        """The command that replaces ``key`` with ``record`` and its unit vector."""
        ...

    def returned(self) -> list[str]:
        """The RETURN / LOAD items that fetch a :class:`Stored` (see :meth:`Stored.of`)."""
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
class _Sortables:
    """``cluster_node``: the index keeps ``user_id`` and ``created_at`` SORTABLE, so that
    a cluster node can group and sort by them without reading keys: there a search
    module may read only keys of its index name's slot (valkey 9 refuses the others).
    """

    cluster_node: bool = False

    def sortable(self) -> list[str | int]:
        """What follows the clause of a field that is sortable on a cluster node."""
        return ["SORTABLE"] if self.cluster_node else []


@dataclass(frozen=True)
class HashLayout(_Sortables):
    """Records as Redis hashes; the vector is a little-endian binary blob.

    Memory per record counts, so hash fields have one-letter names (the index gives them
    their attribute names with ``AS``), and tokens that can never be confused share a
    field indexed twice: kind and outcome in ``k`` (``ki``/``kr`` and ``o<outcome>``),
    task and metadata in ``t`` (digests from different domains).
    """

    name = "hash"

    def schema(self, key_prefix: str, vector: VectorSpec) -> list[str | int]:
        fields: list[str | int] = []
        for tag in _TAGS:
            fields += [_SHORT[tag], "AS", tag, "TAG"]
            if tag == "user_id":
                fields += ["CASESENSITIVE", *self.sortable()]
        return [
            "ON",
            "HASH",
            "PREFIX",
            1,
            key_prefix,
            "SCHEMA",
            *fields,
            _SHORT["created_at"],
            "AS",
            "created_at",
            "NUMERIC",
            *self.sortable(),
            _SHORT["vector"],
            "AS",
            "vector",
            *vector.clause(),
        ]

    def write(self, key: str, record: MemoryRecord, vector: NDArray[Any]) -> Command:
        indexed = index_fields(record)
        # Every record writes the same fields, so HSET alone replaces a record whole.
        return (
            "HSET",
            key,
            _SHORT["user_id"],
            indexed["user_id"],
            _SHORT["kind"],
            f"{indexed['kind']},{indexed['outcome']}" if indexed["outcome"] else indexed["kind"],
            _SHORT["task"],
            ",".join(filter(None, [indexed["task"], *indexed["metadata"]])),
            _SHORT["created_at"],
            created_number(record),
            _SHORT["vector"],
            vector.tobytes(),
            _SHORT[DOC_FIELD],
            document_json(record, keep_created=False),
        )

    def returned(self) -> list[str]:
        # The raw fields: a NUMERIC attribute comes back rounded to 12 digits.
        return [
            *(_SHORT[DOC_FIELD], "AS", DOC_FIELD),
            *(_SHORT["created_at"], "AS", CREATED_FIELD),
            *(_SHORT["kind"], "AS", TOKENS_FIELD),
        ]

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


@dataclass(frozen=True)
class JsonLayout(_Sortables):
    """Records as RedisJSON documents; the vector is a JSON array of numbers."""

    name = "json"

    def schema(self, key_prefix: str, vector: VectorSpec) -> list[str | int]:
        fields: list[str | int] = []
        for tag in _TAGS:
            path = "$.metadata[*]" if tag == "metadata" else f"$.{tag}"
            fields += [path, "AS", tag, "TAG"]
            if tag == "user_id":
                fields += ["CASESENSITIVE", *self.sortable()]
        return [
            "ON",
            "JSON",
            "PREFIX",
            1,
            key_prefix,
            "SCHEMA",
            *fields,
            "$.created_at",
            "AS",
            "created_at",
            "NUMERIC",
            *self.sortable(),
            "$.vector",
            "AS",
            "vector",
            *vector.clause(),
        ]

    def write(self, key: str, record: MemoryRecord, vector: NDArray[Any]) -> Command:
        fields = index_fields(record)
        fields["vector"] = np.ascontiguousarray(vector, dtype=np.float32)
        fields[DOC_FIELD] = document(record, keep_created=True)
        return ("JSON.SET", key, "$", orjson.dumps(fields, option=orjson.OPT_SERIALIZE_NUMPY))

    # RediSearch returns JSON numbers rounded to 12 digits: the document keeps created_at.
    def returned(self) -> list[str]:
        return [f"$.{DOC_FIELD}", "AS", DOC_FIELD, "$.outcome", "AS", TOKENS_FIELD]

    def read(self, key: str, *, vector: bool) -> Command:
        paths = (f"$.{DOC_FIELD}", "$.outcome", *(("$.vector",) if vector else ()))
        return ("JSON.GET", key, *paths)

    def decode(
        self,
        reply: Any,
        vector: VectorSpec,  # noqa: ARG002 - JSON arrays need no dtype
    ) -> tuple[Stored, NDArray[np.float32] | None] | None:
        if reply is None:
            return None
        parts = orjson.loads(reply)
        docs, tokens, vectors = (
            parts.get(path) for path in (f"$.{DOC_FIELD}", "$.outcome", "$.vector")
        )
        if not docs or not tokens:
            return None
        stored = Stored(docs[0], None, tokens[0])
        return stored, None if not vectors else np.asarray(vectors[0], dtype=np.float32)


def layout_for(storage_type: str, *, cluster_node: bool = False) -> Layout:
    """The layout for a ``storage_type`` setting value (see :class:`_Sortables`)."""
    layout = JsonLayout if storage_type == "json" else HashLayout
    return layout(cluster_node=cluster_node)
