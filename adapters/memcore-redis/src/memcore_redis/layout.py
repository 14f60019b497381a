"""The two storage layouts, HASH and JSON: index schema, write commands and reads.

Both index the same attribute names (``user_id``, ``kind``, ``outcome``, ``task``,
``metadata``, ``created_at``, ``vector``), so queries do not care which one is used.
HASH keeps the vector as a binary blob (compact); JSON keeps it as an array of numbers
(about four times the memory, but the documents are readable JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from redis.asyncio.client import Pipeline
from redis.typing import EncodableT, FieldT

from memcore.domain import MemoryRecord
from memcore_redis.encoding import document, index_fields

# Attribute name -> RediSearch type clause; metadata holds several tokens.
_TAGS = ("user_id", "kind", "outcome", "task", "metadata")
DOC_FIELD = "doc"
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


class Layout(Protocol):
    """How one storage type writes and reads a record."""

    name: str
    #: Where the record document is stored (hash field or JSON path).
    stored_doc_field: str

    def schema(self, key_prefix: str, vector: VectorSpec) -> list[str | int]:
        """The FT.CREATE arguments after the index name, for keys starting with ``key_prefix``."""
        ...

    def write(self, pipe: Pipeline, key: str, record: MemoryRecord, vector: NDArray[Any]) -> None:
        """Queue the commands that replace ``key`` with ``record`` and its unit vector."""
        ...

    def return_doc(self) -> list[str]:
        """The RETURN / LOAD clause items that fetch the record document as ``doc``."""
        ...

    def read(self, pipe: Pipeline, key: str) -> None:
        """Queue a read of ``key``'s document and vector (see :meth:`decode`)."""
        ...

    def decode(self, reply: Any, vector: VectorSpec) -> tuple[Any, NDArray[np.float32]] | None:
        """``(document, float32 vector)`` from a :meth:`read` reply, or ``None`` if missing."""
        ...


class HashLayout:
    """Records as Redis hashes; the vector is a little-endian binary blob.

    Memory per record counts, so hash fields have one-letter names (the index gives them
    their attribute names with ``AS``), and tokens that can never be confused share a
    field indexed twice: kind and outcome in ``k`` (``ki``/``kr`` and ``o<outcome>``),
    task and metadata in ``t`` (digests from different domains).
    """

    name = "hash"
    stored_doc_field = _SHORT[DOC_FIELD]

    def schema(self, key_prefix: str, vector: VectorSpec) -> list[str | int]:
        fields: list[str | int] = []
        for tag in _TAGS:
            fields += [_SHORT[tag], "AS", tag, "TAG"]
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
            _SHORT["vector"],
            "AS",
            "vector",
            *vector.clause(),
        ]

    def write(self, pipe: Pipeline, key: str, record: MemoryRecord, vector: NDArray[Any]) -> None:
        indexed = index_fields(record)
        fields: dict[FieldT, EncodableT] = {
            _SHORT["user_id"]: indexed["user_id"],
            _SHORT["kind"]: ",".join(filter(None, [indexed["kind"], indexed["outcome"]])),
            _SHORT["task"]: ",".join(filter(None, [indexed["task"], *indexed["metadata"]])),
            _SHORT["created_at"]: repr(indexed["created_at"]),
            _SHORT["vector"]: vector.tobytes(),
            _SHORT[DOC_FIELD]: document(record),
        }
        # Every record writes the same fields, so HSET alone replaces a record whole.
        pipe.hset(key, mapping=fields)

    def return_doc(self) -> list[str]:
        return [_SHORT[DOC_FIELD], "AS", DOC_FIELD]

    def read(self, pipe: Pipeline, key: str) -> None:
        pipe.hmget(key, [_SHORT[DOC_FIELD], _SHORT["vector"]])

    def decode(self, reply: Any, vector: VectorSpec) -> tuple[Any, NDArray[np.float32]] | None:
        doc, blob = reply
        if doc is None or blob is None:
            return None
        return doc, np.frombuffer(blob, dtype=vector.dtype).astype(np.float32)


class JsonLayout:
    """Records as RedisJSON documents; the vector is a JSON array of numbers."""

    name = "json"
    stored_doc_field = f"$.{DOC_FIELD}"

    def schema(self, key_prefix: str, vector: VectorSpec) -> list[str | int]:
        fields: list[str | int] = []
        for tag in _TAGS:
            path = "$.metadata[*]" if tag == "metadata" else f"$.{tag}"
            fields += [path, "AS", tag, "TAG"]
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
            "$.vector",
            "AS",
            "vector",
            *vector.clause(),
        ]

    def write(self, pipe: Pipeline, key: str, record: MemoryRecord, vector: NDArray[Any]) -> None:
        fields = index_fields(record)
        fields["vector"] = vector.astype(np.float32).tolist()
        fields[DOC_FIELD] = json.loads(document(record))
        pipe.execute_command("JSON.SET", key, "$", json.dumps(fields, ensure_ascii=False))

    def return_doc(self) -> list[str]:
        return [f"$.{DOC_FIELD}", "AS", DOC_FIELD]

    def read(self, pipe: Pipeline, key: str) -> None:
        pipe.execute_command("JSON.GET", key, f"$.{DOC_FIELD}", "$.vector")

    def decode(self, reply: Any, vector: VectorSpec) -> tuple[Any, NDArray[np.float32]] | None:  # noqa: ARG002 - JSON arrays need no dtype
        if reply is None:
            return None
        parts = json.loads(reply)
        docs, vectors = parts[f"$.{DOC_FIELD}"], parts["$.vector"]
        if not docs or not vectors:
            return None
        return docs[0], np.asarray(vectors[0], dtype=np.float32)


def layout_for(storage_type: str) -> Layout:
    """The layout for a ``storage_type`` setting value."""
    return JsonLayout() if storage_type == "json" else HashLayout()
