"""memcore's JSON layout against a raw ``JSON.SET`` floor: memory per record, and where
the bytes go.

    python adapters/memcore-redis/benchmarks/bench_json_memory.py --n 10000

The floor writes with redis-py, in pipelines of 500 ``JSON.SET``, the document memcore's
JSON layout stores: the same fields under the same names (checked on one record of each:
the run stops if they differ), the vector as a JSON array of floats (as RedisJSON
requires), metadata tags as literal ``key:value`` strings (memcore stores a digest of
each). Its index is memcore's: created from the attributes ``FT.INFO`` gives for
memcore's index, only the key prefix differs. memcore writes through ``RedisStore.upsert``
(what the service's layers end in; they add no bytes).

Each round starts a fresh embedded server, creates both indexes, then writes the two
datasets one after the other, in turn first (``used_memory`` settled between them: see
:func:`memcore_bench.redis_targets.used_memory`). Then, for the record both hold under the same id:
``MEMORY USAGE`` of its key, and each index's sizes from ``FT.INFO`` per record.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
from typing import Any

import orjson
import redis.asyncio as aioredis
from bench_redis import BATCH, Data, ingest_by_user, make_data
from numpy.typing import NDArray

from memcore.adapters.hashing import HashingEmbedder
from memcore.domain import EmbeddingSchema, Intervention
from memcore_bench.redis_targets import used_memory
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.commands import call
from memcore_redis.testing import EmbeddedRedis

FLOOR_PREFIX = "jfloor:"
FLOOR_INDEX = "jfloor-idx"
SIZES = (
    "vector_index_sz_mb", "inverted_sz_mb", "offset_vectors_sz_mb", "doc_table_size_mb",
    "sortable_values_size_mb", "key_table_size_mb", "tag_overhead_sz_mb",
)  # fmt: skip
_VECTOR_OPTIONS = {"DATA_TYPE": "TYPE"}  # FT.INFO's name of a vector option -> FT.CREATE's


def floor_document(record: Intervention, vector: NDArray[Any]) -> bytes:
    """The document memcore's JSON layout stores for ``record``, written by hand."""
    document = {
        "kind": record.kind.value,
        "user_id": record.user_id,
        "intervention_text": record.intervention_text,
        "task": record.task,
        "context": record.context,
        "outcome": record.outcome.value,
        "created_at": record.created_at.timestamp(),
        "metadata": dict(record.metadata),
        "metadata_tags": [f"{key}:{value}" for key, value in record.metadata.items()],
        "vector": vector,
    }
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def schema_of(info: list[Any]) -> list[Any]:
    """``FT.CREATE``'s ``SCHEMA`` arguments that rebuild the attributes ``FT.INFO`` gave."""
    schema: list[Any] = []
    for attribute in _as_dict(info)[b"attributes"]:
        identifier, name, kind, options = attribute[1], attribute[3], attribute[5], attribute[6:]
        schema += [identifier, "AS", name, kind]
        if kind != b"VECTOR":
            schema += options
            continue
        pairs = dict(zip(options[::2], options[1::2], strict=True))
        algorithm = pairs.pop(b"algorithm")
        flat = [(_vector_option(key), value) for key, value in pairs.items()]
        schema += [algorithm, 2 * len(flat), *(item for pair in flat for item in pair)]
    return schema


def _vector_option(key: bytes) -> str:
    name = key.decode().upper()
    return _VECTOR_OPTIONS.get(name, name)


def _as_dict(reply: list[Any]) -> dict[bytes, Any]:
    return dict(zip(reply[::2], reply[1::2], strict=True))


def index_sizes(info: list[Any], records: int) -> dict[str, float]:
    """Bytes per record of each part of an index (``FT.INFO``'s sizes are in MB)."""
    fields = _as_dict(info)
    return {size: float(fields[size.encode()]) * 2**20 / records for size in SIZES}


async def write_floor(raw: aioredis.Redis, data: Data, n: int) -> None:
    """The floor's documents of the first ``n`` records, ``BATCH`` a pipeline."""
    for start in range(0, n, BATCH):
        async with raw.pipeline(transaction=False) as pipe:
            for i in range(start, min(start + BATCH, n)):
                document = floor_document(data.records[i], data.vectors[i])
                pipe.execute_command(
                    "JSON.SET", f"{FLOOR_PREFIX}{data.records[i].id}", "$", document
                )
            await pipe.execute()


async def one_round(url: str, data: Data, n: int, *, floor_first: bool) -> dict[str, Any]:
    """Both datasets on the server at ``url``: bytes per record of each, and of one record."""
    raw = aioredis.Redis.from_url(url, protocol=2)
    store = RedisStore(RedisSettings(url=url, storage_type="json"))
    dim = data.vectors.shape[1]
    try:
        await store.ensure_schema(
            EmbeddingSchema(dimension=dim, model=HashingEmbedder(dimension=dim).model)
        )
        memcore_index = await call(raw, "FT.INFO", store.index_name)
        await call(
            raw, "FT.CREATE", FLOOR_INDEX, "ON", "JSON", "PREFIX", 1, FLOOR_PREFIX, "SCHEMA",
            *schema_of(memcore_index),
        )  # fmt: skip
        writes = {
            "floor": functools.partial(write_floor, raw, data, n),
            "memcore": functools.partial(ingest_by_user, store, data, n),
        }
        bytes_per_record = {}
        for who in sorted(writes, reverse=not floor_first):  # "floor" < "memcore"
            before = await used_memory(raw)
            await writes[who]()
            bytes_per_record[who] = (await used_memory(raw) - before) / n
        record = data.records[0]
        found = await call(raw, "KEYS", f"{store.settings.key_prefix}:*:{record.id}")
        keys = {"floor": f"{FLOOR_PREFIX}{record.id}", "memcore": found[0].decode()}
        indexes = {"floor": FLOOR_INDEX, "memcore": store.index_name}
        infos = {who: await call(raw, "FT.INFO", index) for who, index in indexes.items()}
        _same_layout(
            fields={who: await call(raw, "JSON.OBJKEYS", key) for who, key in keys.items()},
            infos=infos,
        )
        return {
            "bytes": bytes_per_record,
            "usage": {
                who: await call(raw, "MEMORY", "USAGE", key, "SAMPLES", 0)
                for who, key in keys.items()
            },
            "key": {who: len(key) for who, key in keys.items()},
            "sizes": {who: index_sizes(info, n) for who, info in infos.items()},
        }
    finally:
        await store.aclose()
        await raw.aclose()


def _same_layout(fields: dict[str, list[bytes]], infos: dict[str, list[Any]]) -> None:
    """Stop the run if the floor's document or index is not memcore's."""
    floor, ours = (set(fields[who]) for who in ("floor", "memcore"))
    if floor != ours:
        raise SystemExit(f"the floor's fields are not memcore's: {sorted(floor ^ ours)}")
    floor_index, our_index = (_as_dict(infos[who])[b"attributes"] for who in ("floor", "memcore"))
    if floor_index != our_index:
        raise SystemExit(f"the floor's index is not memcore's: {floor_index} != {our_index}")


def table(n: int, rounds: list[dict[str, Any]]) -> str:
    """Every figure of the floor beside memcore's, with the ratio."""
    lines = [
        f"JSON, N = {n:,} records per dataset",
        "",
        "| figure | JSON floor | memcore JSON | memcore / floor |",
        "|---|---|---|---|",
    ]

    def row(label: str, pair: dict[str, float], fmt: str = ",.0f") -> None:
        ratio = f"{pair['memcore'] / pair['floor']:.3f}x" if pair["floor"] else ""
        lines.append(f"| {label} | {pair['floor']:{fmt}} | {pair['memcore']:{fmt}} | {ratio} |")

    for number, figures in enumerate(rounds):
        first = "floor" if number % 2 == 0 else "memcore"
        row(f"bytes/record, used_memory (round {number + 1}, {first} first)", figures["bytes"])
    last = rounds[-1]
    row("MEMORY USAGE of one record's key (bytes)", last["usage"])
    row("key length (bytes)", last["key"])
    for size in SIZES:
        row(
            f"index {size.removesuffix('_mb')}, bytes/record",
            {who: last["sizes"][who][size] for who in last["sizes"]},
            ",.1f",
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="records per dataset")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument(
        "--rounds", type=int, default=2, help="fresh servers, the first writer alternating"
    )
    args = parser.parse_args()
    data = make_data(args.n, args.users, args.dim, queries=1)
    rounds = []
    for number in range(args.rounds):
        with EmbeddedRedis() as server:
            rounds.append(
                asyncio.run(one_round(server.url, data, args.n, floor_first=number % 2 == 0))
            )
    print(table(args.n, rounds))


if __name__ == "__main__":
    main()
