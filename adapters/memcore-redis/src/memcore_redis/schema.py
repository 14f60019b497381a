"""Schema lifecycle: modules present, metadata key, index created once and never rebuilt.

The metadata key ``<prefix>:meta`` holds, as JSON, the schema version, the embedding
dimension and model, the storage type and vector datatype the data was written with. It
is written once with ``SET NX`` (so two processes starting together agree) and compared
on every start: a different embedder is a :class:`SchemaMismatchError`, different storage
settings a :class:`ConfigurationError` naming the setting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from memcore.domain import EmbeddingSchema
from memcore.errors import (
    ConfigurationError,
    IndexCreationError,
    SchemaMismatchError,
    StoreError,
    StoreUnavailableError,
)
from memcore_redis.commands import call, round_trip
from memcore_redis.errors import BACKEND, is_missing_index, map_redis_errors
from memcore_redis.layout import Command, Layout, VectorSpec
from memcore_redis.settings import ENV_PREFIX

SEARCH_MODULE = "search"
JSON_MODULE = "ReJSON"


@dataclass(frozen=True)
class IndexInfo:
    """The parts of FT.INFO memcore looks at."""

    num_docs: int
    indexing_failures: int
    percent_indexed: float
    building: bool
    """The background scan of existing keys is still running (``indexing`` 1)."""
    key_type: str
    vector_dimension: int | None
    vector_datatype: str | None
    #: The index's own name (an alias resolves to it).
    name: str = ""

    def problems(self) -> list[str]:
        """What is wrong with the index, in words (empty when nothing is)."""
        problems = []
        if self.indexing_failures:
            problems.append(f"{self.indexing_failures} documents failed to index")
        if self.building:
            problems.append(f"index {self.percent_indexed:.0%} built")
        return problems

    @classmethod
    def parse(cls, reply: list[Any]) -> IndexInfo:
        """Read a RESP2 FT.INFO reply (a flat name/value list)."""
        info = _pairs(reply)
        definition = _pairs(info.get("index_definition", []))
        vector: dict[str, Any] = {}
        for attribute in info.get("attributes", []):
            fields = _attribute(attribute)
            if _text(fields.get("type")) == "VECTOR":
                vector = fields
        return cls(
            num_docs=int(info.get("num_docs", 0)),
            indexing_failures=int(info.get("hash_indexing_failures", 0)),
            percent_indexed=float(info.get("percent_indexed", 1)),
            building=bool(int(info.get("indexing", 0))),
            key_type=_text(definition.get("key_type")),
            vector_dimension=int(vector["dim"]) if "dim" in vector else None,
            vector_datatype=_text(vector.get("data_type")) or None,
            name=_text(info.get("index_name")),
        )


async def module_versions(client: Redis, operation: str) -> dict[str, int] | None:
    """``{module name: version}`` from MODULE LIST, or ``None`` when it is not allowed."""
    try:
        with map_redis_errors(operation):
            modules = await client.module_list()
    except StoreUnavailableError:
        raise
    except StoreError:  # managed services may forbid MODULE LIST: we cannot tell
        return None
    return {_text(module[b"name"]): int(module[b"ver"]) for module in modules}


async def index_info(client: Redis, index: str, operation: str) -> IndexInfo | None:
    """FT.INFO of ``index``, or ``None`` if it does not exist."""
    try:
        with map_redis_errors(operation):
            reply = await call(client, "FT.INFO", index)
    except StoreError as exc:
        if is_missing_index(exc):
            return None
        raise
    return IndexInfo.parse(reply)


class SchemaKeeper:
    """Creates what is missing and checks what is there, for one store's settings."""

    def __init__(
        self, client: Redis, *, key_prefix: str, index: str, layout: Layout, key_suffix: str = ""
    ) -> None:
        self._client = client
        self._index = index
        self._layout = layout
        self._meta_key = f"{key_prefix}:meta{key_suffix}"
        #: Bumped by whoever (re)creates the index: see :mod:`memcore_redis.building`.
        self.generation_key = f"{key_prefix}:index_generation{key_suffix}"
        self._records_prefix = f"{key_prefix}:{{"
        # The index FT.CREATE makes: the index itself, or the one its name is an alias of
        # after a migration (memcore_redis.migrate).
        self._target = index

    def expected_meta(self, schema: EmbeddingSchema, vector: VectorSpec) -> dict[str, Any]:
        """The metadata this store writes for ``schema``."""
        return {
            "schema_version": self._layout.version,
            "dimension": schema.dimension,
            "model": schema.model,
            "storage_type": self._layout.name,
            "vector_datatype": vector.datatype,
            "index": self._index,
        }

    async def ensure(self, schema: EmbeddingSchema, vector: VectorSpec) -> None:
        """Check modules, agree on metadata, create the index if absent."""
        await self._check_modules()
        expected = self.expected_meta(schema, vector)
        with map_redis_errors("ensure_schema"):
            written = await call(self._client, *self._meta_command(expected))
            stored = (
                expected if written else json.loads(await self._client.get(self._meta_key) or "{}")
            )
        self._compare(stored, expected)
        info = await index_info(self._client, self._index, "ensure_schema")
        if info is None:
            await self._create(vector)
        else:
            self._target = info.name or self._index
            self._compare_index(info, schema)

    def creation(self, schema: EmbeddingSchema, vector: VectorSpec) -> list[Command]:
        """The commands that create what :meth:`ensure` found or created, each harmless
        when it is there already (``SET NX``; ``FT.CREATE`` and ``FT.ALIASADD`` answer
        "already exists"). An alias is not created over: ``FT.CREATE`` of an alias's
        name would make a second index that hides it.
        """
        return [
            self._meta_command(self.expected_meta(schema, vector)),
            *self.create_commands(vector),
        ]

    def _meta_command(self, expected: dict[str, Any]) -> Command:
        return ("SET", self._meta_key, json.dumps(expected), "NX")

    def create_commands(self, vector: VectorSpec, index: str | None = None) -> list[Command]:
        """What creates this store's index (the one its name is an alias of, if it is
        one), or ``index`` over the same keys.
        """
        name = self._target if index is None else index
        # The generation first: a reader that sees the new index also sees it is new.
        commands: list[Command] = [
            ("INCR", self.generation_key),
            ("FT.CREATE", name, *self._layout.schema(self._records_prefix, vector)),
        ]
        if index is None and name != self._index:
            commands.append(("FT.ALIASADD", self._index, name))
        return commands

    async def recreate(self, vector: VectorSpec) -> None:
        """Create the index again after it went missing (fine if another process did)."""
        await self._create(vector)

    @property
    def meta_key(self) -> str:
        """The key holding the schema metadata."""
        return self._meta_key

    async def _check_modules(self) -> None:
        versions = await module_versions(self._client, "ensure_schema")
        if versions is None:
            return  # cannot tell; FT.CREATE will say if search is missing
        needed = [SEARCH_MODULE] + ([JSON_MODULE] if self._layout.name == "json" else [])
        for module in needed:
            if module not in versions:
                what = (
                    "RediSearch ('search')" if module == SEARCH_MODULE else "RedisJSON ('ReJSON')"
                )
                raise IndexCreationError(
                    f"the Redis server has no {what} module; use Redis Stack or Redis 8+, or "
                    f"start the server with --loadmodule for it",
                    operation="ensure_schema",
                    backend=BACKEND,
                )

    def _compare(self, stored: dict[str, Any], expected: dict[str, Any]) -> None:
        if stored.get("schema_version") != expected["schema_version"]:
            raise StoreError(
                f"{self._meta_key} has schema version {stored.get('schema_version')!r} "
                f"(storage_type={stored.get('storage_type')!r}); this "
                f"agent-memcore-redis writes version {expected['schema_version']} for "
                f"{expected['storage_type']} storage (an older version moves to it with "
                f"`memcore migrate`, docs/adapters/redis.md)",
                operation="ensure_schema",
                backend=BACKEND,
            )
        ours = EmbeddingSchema(dimension=expected["dimension"], model=expected["model"])
        theirs = EmbeddingSchema(dimension=stored["dimension"], model=stored["model"])
        if ours != theirs:
            raise SchemaMismatchError(
                "embedding schema mismatch",
                expected=theirs.describe(),
                actual=ours.describe(),
                operation="ensure_schema",
                backend=BACKEND,
            )
        for field, setting in (
            ("storage_type", "STORAGE_TYPE"),
            ("vector_datatype", "VECTOR_DATATYPE"),
        ):
            if stored.get(field) != expected[field]:
                raise ConfigurationError(
                    f"the data under this key prefix was written with {field}="
                    f"{stored.get(field)!r}, the settings say {expected[field]!r}",
                    setting=ENV_PREFIX + setting,
                    operation="ensure_schema",
                    backend=BACKEND,
                )

    def _compare_index(self, info: IndexInfo, schema: EmbeddingSchema) -> None:
        if info.vector_dimension not in (None, schema.dimension):
            raise SchemaMismatchError(
                f"index {self._index!r} does not fit the embedder",
                expected=f"an index of {info.vector_dimension} dims",
                actual=schema.describe(),
                operation="ensure_schema",
                backend=BACKEND,
            )
        if info.key_type and info.key_type.lower() != self._layout.name:
            raise ConfigurationError(
                f"index {self._index!r} indexes {info.key_type} keys, the settings say "
                f"{self._layout.name}",
                setting=f"{ENV_PREFIX}STORAGE_TYPE",
                operation="ensure_schema",
                backend=BACKEND,
            )

    async def _create(self, vector: VectorSpec) -> None:
        try:
            with map_redis_errors("ensure_schema"):
                await round_trip(self._client, self.create_commands(vector))
        except StoreError as exc:
            if "already exists" in str(exc.__cause__).lower():
                return  # another process created it meanwhile; it was checked by meta
            raise IndexCreationError(
                f"cannot create index {self._index!r}: {exc.message}",
                operation="ensure_schema",
                backend=BACKEND,
            ) from exc


# Attribute options FT.INFO lists as a lone word, not as a name and a value.
_FLAGS = frozenset(
    {"CASESENSITIVE", "SORTABLE", "UNF", "NOSTEM", "NOINDEX", "WITHSUFFIXTRIE", "INDEXEMPTY",
     "INDEXMISSING"}
)  # fmt: skip


def _attribute(flat: list[Any]) -> dict[str, Any]:
    """One FT.INFO attribute: name/value pairs with flags (``CASESENSITIVE``...) among them."""
    fields: dict[str, Any] = {}
    items = iter(flat)
    for item in items:
        name = _text(item)
        fields[name] = True if name in _FLAGS else next(items, None)
    return fields


def _pairs(flat: list[Any]) -> dict[str, Any]:
    return {_text(name): value for name, value in zip(flat[::2], flat[1::2], strict=True)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
