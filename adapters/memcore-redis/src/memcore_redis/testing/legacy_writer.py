"""Writes records the way agent-memcore-redis did before the readable layout (hash 2,
JSON 3, commit 54fefd9), with raw commands: the data a migration starts from.

Only what that layout stored, field for field; see memcore_redis.legacy for its reading.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import numpy as np
import orjson
import redis.asyncio as aioredis

from memcore.domain import EmbeddingSchema, Intervention, MemoryRecord
from memcore_redis.commands import call
from memcore_redis.encoding import digest, key_tag, metadata_token, record_key
from memcore_redis.legacy import VERSIONS

_VECTOR = ["VECTOR", "HNSW", 12, "TYPE", "FLOAT32", "DIM", 0, "DISTANCE_METRIC", "COSINE",
           "M", 16, "EF_CONSTRUCTION", 200, "EF_RUNTIME", 20]  # fmt: skip


async def create(
    client: aioredis.Redis, prefix: str, index: str, storage: str, schema: EmbeddingSchema
) -> None:
    """The old index, epoch key (see memcore_redis.durability) and schema metadata."""
    json_storage = storage == "json"
    fields: list[Any] = []
    for short, name in (("u", "user_id"), ("k", "kind"), ("k", "outcome"), ("t", "task"),
                        ("t", "metadata")):  # fmt: skip
        options = ["SEPARATOR", ","] if json_storage else []
        fields += [_field(short, json_storage), "AS", name, "TAG", *options]
        fields += ["CASESENSITIVE"] if name == "user_id" else []
    vector = [*_VECTOR]
    vector[6] = schema.dimension
    await call(
        client, "FT.CREATE", index, "ON", storage.upper(), "PREFIX", 1, f"{prefix}:{{", "SCHEMA",
        *fields, _field("c", json_storage), "AS", "created_at", "NUMERIC",
        _field("v", json_storage), "AS", "vector", *vector,
    )  # fmt: skip
    meta = {
        "schema_version": VERSIONS[storage], "dimension": schema.dimension,
        "model": schema.model, "storage_type": storage, "vector_datatype": "FLOAT32",
        "index": index,
    }  # fmt: skip
    await client.set(f"{prefix}:epoch", secrets.token_hex(16), nx=True)
    await client.set(f"{prefix}:meta", json.dumps(meta), nx=True)


def write(
    prefix: str, storage: str, record: MemoryRecord, vector: np.ndarray[Any, Any]
) -> tuple[Any, ...]:
    """The command that stored ``record`` in the old layout."""
    key = record_key(prefix, record.user_id, record.id)
    metadata = [metadata_token(name, value) for name, value in record.metadata.items()]
    doc: dict[str, Any] = {"m": dict(record.metadata)} if record.metadata else {}
    if isinstance(record, Intervention):
        kinds = f"ki,o{record.outcome.value}"
        tags = ",".join([digest(f"task\x1f{record.task}"), *metadata])
        doc |= {"x": record.intervention_text, "t": record.task}
        doc |= {"n": record.context} if record.context else {}
    else:
        kinds, tags = "kr", ",".join(metadata)
        doc["r"] = record.text
        doc |= {"s": list(record.source_ids)} if record.source_ids else {}
    created = record.created_at.timestamp()
    if storage == "json":
        document = {"u": key_tag(record.user_id), "k": kinds, "t": tags, "c": created,
                    "v": vector.astype(np.float32), "d": orjson.dumps(doc).decode()}  # fmt: skip
        return ("JSON.SET", key, "$", orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY))
    return ("HSET", key, "u", key_tag(record.user_id), "k", kinds, "t", tags, "c", repr(created),
            "v", vector.astype(np.float32).tobytes(), "d", orjson.dumps(doc))  # fmt: skip


def _field(short: str, json_storage: bool) -> str:
    return f"$.{short}" if json_storage else short
