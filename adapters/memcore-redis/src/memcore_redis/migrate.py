"""Online migration of a key prefix's records from the layout before (hash 2, JSON 3, see
:mod:`.legacy`) to the readable one (``memcore migrate``).

Steps, each resumable from the state in ``<prefix>:migration``:

1. **create** the new index ``<index>-<storage><version>`` beside the old one, over the
   same keys;
2. **backfill**: write each record's new fields beside its old ones, which processes of
   the version before keep reading and writing through the old index; then catch-up
   passes convert what they wrote meanwhile, until one finds nothing (at most
   :data:`CATCH_UP_PASSES`);
3. **switch**, in one MULTI/EXEC: drop the old index (not its documents), point the
   alias ``<index>`` at the new one (``FT.ALIASUPDATE``) and write the new schema
   metadata. Stores of this version start from here and use the alias;
4. **strip**: convert each record that still has old fields from them, and drop them. A
   write of this version drops them itself, so a record that has them was last written
   by the version before: converting it again loses nothing.

Each batch of records is converted under ``WATCH``: a write that lands meanwhile aborts
the batch, which is read again, so a conversion never overwrites a newer write. Every
conversion is the same function of the old fields, so a rerun, after a crash or not,
converts what is left and duplicates nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import hiredis
import orjson
from redis.asyncio import Redis

from memcore.domain import EmbeddingSchema
from memcore.errors import ConfigurationError, StoreError
from memcore_redis import legacy
from memcore_redis.client import connection_pool
from memcore_redis.commands import read_reply, round_trip
from memcore_redis.errors import BACKEND, map_redis_errors
from memcore_redis.layout import Command, Layout, VectorSpec, layout_for
from memcore_redis.replies import raise_first_error, text
from memcore_redis.schema import SchemaKeeper, index_info
from memcore_redis.settings import ENV_PREFIX, RedisSettings

#: Catch-up passes before the switch; what they leave, the strip pass converts.
CATCH_UP_PASSES = 3
_KEY_TYPES = {"hash": "hash", "json": "ReJSON-RL"}

#: Called with the phase and how many more records it has looked at.
Progress = Callable[[str, int], None]


@dataclass
class Report:
    """What a run did (or, dry, would do)."""

    status: str  # empty | up_to_date | migrated | dry_run
    storage_type: str = ""
    from_version: int | None = None
    to_version: int | None = None
    index: str = ""
    new_index: str = ""
    #: Records in the old layout (a dry run), or moved out of it for good (the strip pass).
    records: int = 0
    passes: dict[str, int] = field(default_factory=dict)  # records converted per pass
    resumed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON types."""
        return asdict(self)


class Migration:
    """Migrates the records under ``settings.key_prefix``; see the module docstring."""

    def __init__(
        self, settings: RedisSettings, *, batch_size: int = 100, rate: float | None = None
    ) -> None:
        self.settings = settings
        self._batch = batch_size
        self._rate = rate
        self._client = Redis(connection_pool=connection_pool(settings))
        self._layout: Layout = layout_for(settings.storage_type)
        self._keeper = SchemaKeeper(
            self._client, key_prefix=settings.key_prefix, index=settings.index, layout=self._layout
        )
        self._state_key = f"{settings.key_prefix}:migration"
        self._pattern = f"{settings.key_prefix}:{{*"
        self._new_index = f"{settings.index}-{self._layout.name}{self._layout.version}"
        self._vector: VectorSpec | None = None
        self._started = time.monotonic()
        self._seen = 0

    @property
    def client(self) -> Redis:
        """The client the migration runs on."""
        return self._client

    async def aclose(self) -> None:
        """Close the connections."""
        await self._client.aclose()
        await self._client.connection_pool.aclose()

    async def run(self, *, dry_run: bool = False, progress: Progress | None = None) -> Report:
        """Migrate what is left to migrate (with ``dry_run``, only count it)."""
        on_progress = progress or (lambda _phase, _count: None)
        with map_redis_errors("migrate"):
            meta = await self._client.get(self._keeper.meta_key)
            state = json.loads(await self._client.get(self._state_key) or "{}")
        if meta is None:
            return Report(status="empty", storage_type=self._layout.name)
        stored = json.loads(meta)
        report = self._start(stored, resumed=bool(state))
        if dry_run:
            report.status = "dry_run"
            report.records = await self._pass("count", 0, on_progress)
            return report
        switched = stored["schema_version"] == self._layout.version
        if not switched:
            await self._create()
            cursor = state.get("cursor", 0) if state.get("phase") == "backfill" else 0
            report.passes["backfill"] = await self._pass("backfill", cursor, on_progress)
            for number in range(1, CATCH_UP_PASSES + 1):
                converted = await self._pass("catch-up", 0, on_progress, label=f"catch-up {number}")
                report.passes[f"catch-up {number}"] = converted
                if not converted:
                    break
            await self._switch(stored)
            state = {"phase": "strip", "cursor": 0}
        cursor = state.get("cursor", 0) if state.get("phase") == "strip" else 0
        report.passes["strip"] = await self._pass("strip", cursor, on_progress)
        with map_redis_errors("migrate"):
            await self._client.delete(self._state_key)
        report.records = report.passes["strip"]
        report.status = "migrated" if report.records or not switched else "up_to_date"
        return report

    def _start(self, stored: dict[str, Any], *, resumed: bool) -> Report:
        """Check the stored metadata can be migrated by these settings; the report so far."""
        storage = self._layout.name
        if stored.get("storage_type") != storage:
            raise ConfigurationError(
                f"the data under this key prefix was written with storage_type="
                f"{stored.get('storage_type')!r}, the settings say {storage!r}",
                setting=ENV_PREFIX + "STORAGE_TYPE",
                operation="migrate",
                backend=BACKEND,
            )
        version = stored.get("schema_version")
        if version not in (legacy.VERSIONS[storage], self._layout.version):
            raise StoreError(
                f"{self._keeper.meta_key} has schema version {version!r}; this "
                f"agent-memcore-redis migrates {storage} storage from version "
                f"{legacy.VERSIONS[storage]} to {self._layout.version}",
                operation="migrate",
                backend=BACKEND,
            )
        self._vector = VectorSpec.for_settings(self.settings, int(stored["dimension"]))
        return Report(
            status="",
            storage_type=storage,
            from_version=version,
            to_version=self._layout.version,
            index=self.settings.index,
            new_index=self._new_index,
            resumed=resumed,
        )

    async def _create(self) -> None:
        """The new index beside the old one, unless an earlier run made it."""
        assert self._vector is not None  # noqa: S101 - set by _start
        if await index_info(self._client, self._new_index, "migrate") is None:
            create = self._keeper.create_commands(self._vector, self._new_index)
            with map_redis_errors("migrate"):
                await round_trip(self._client, create)

    async def _switch(self, stored: dict[str, Any]) -> None:
        """Drop the old index, point the alias at the new one, write the new metadata."""
        assert self._vector is not None  # noqa: S101 - set by _start
        index = self.settings.index
        old = await index_info(self._client, index, "migrate")
        schema = EmbeddingSchema(dimension=stored["dimension"], model=stored["model"])
        meta = json.dumps(self._keeper.expected_meta(schema, self._vector))
        moves: list[Command] = [("FT.ALIASUPDATE", index, self._new_index)]
        if old is not None and old.name == index:  # an index, not an alias: it goes first
            moves.insert(0, ("FT.DROPINDEX", index))
        elif old is not None and old.name != self._new_index:
            moves.append(("FT.DROPINDEX", old.name))
        state = _state("strip", 0, 0)
        commands = [*moves, ("SET", self._keeper.meta_key, meta), ("SET", self._state_key, state)]
        with map_redis_errors("migrate"):
            async with _connection(self._client) as connection:
                replies = await _exchange(connection, [("MULTI",), *commands, ("EXEC",)])
            raise_first_error(replies[:-1])
            raise_first_error(replies[-1])

    async def _pass(
        self, phase: str, cursor: int, progress: Progress, *, label: str | None = None
    ) -> int:
        """One SCAN over the records from ``cursor``, converting (or counting) the old ones;
        how many it converted. The cursor is saved after each batch.
        """
        converted = 0
        while True:
            with map_redis_errors("migrate"):
                cursor, keys = await self._client.scan(
                    cursor, match=self._pattern, count=self._batch,
                    _type=_KEY_TYPES[self._layout.name],
                )  # fmt: skip
                if keys:
                    converted += await self._convert([text(key) for key in keys], phase)
                if phase != "count":
                    await self._client.set(self._state_key, _state(phase, cursor, converted))
            progress(label or phase, len(keys))
            await self._throttle(len(keys))
            if not cursor:
                return converted

    async def _convert(self, keys: Sequence[str], phase: str) -> int:
        """Convert the old records among ``keys`` for ``phase``, under WATCH; how many."""
        while True:
            async with _connection(self._client) as connection:
                outcome = await self._convert_on(connection, keys, phase)
            if outcome is not None:
                return outcome

    async def _convert_on(self, connection: Any, keys: Sequence[str], phase: str) -> int | None:
        """One attempt of :meth:`_convert`; ``None`` if a watched key changed meanwhile."""
        assert self._vector is not None  # noqa: S101 - set by _start
        reads = [self._read(key) for key in keys]
        replies = await _exchange(connection, [("WATCH", *keys), *reads])
        writes: list[Command] = []
        converted = 0
        for key, reply in zip(keys, replies[1:], strict=True):
            fields = self._fields(reply)
            if not legacy.is_legacy(fields):
                continue
            record, vector = legacy.decode(key, fields, self._vector.dtype)
            if phase == "strip":
                commands = self._layout.write(key, record, vector)
            else:
                commands = self._layout.beside(key, record, vector)
                if _up_to_date(fields, commands):
                    continue
            converted += 1
            writes += commands
        if phase == "count" or not writes:
            await _exchange(connection, [("UNWATCH",)])
            return converted
        replies = await _exchange(connection, [("MULTI",), *writes, ("EXEC",)])
        if replies[-1] is None:
            return None
        raise_first_error(replies[-1])
        return converted

    def _read(self, key: str) -> Command:
        return ("HGETALL", key) if self._layout.name == "hash" else ("JSON.GET", key)

    def _fields(self, reply: Any) -> dict[str, Any]:
        if isinstance(reply, Exception):
            raise reply
        if self._layout.name == "hash":
            pairs = iter(reply or ())
            return {name.decode(): value for name, value in zip(pairs, pairs, strict=True)}
        return orjson.loads(reply) if reply else {}

    async def _throttle(self, seen: int) -> None:
        """Keep to ``rate`` records a second, if set."""
        self._seen += seen
        if self._rate:
            ahead = self._seen / self._rate - (time.monotonic() - self._started)
            if ahead > 0:
                await asyncio.sleep(ahead)


def _state(phase: str, cursor: int, converted: int) -> str:
    """The saved state: where ``phase``'s SCAN is, and how many it converted this run."""
    return json.dumps({"phase": phase, "cursor": int(cursor), "converted": converted})


def _up_to_date(fields: dict[str, Any], commands: Sequence[Command]) -> bool:
    """Whether ``fields`` (a hash's, or a JSON document's) already hold what the
    backfill ``commands`` would write.
    """
    first = commands[0]
    if first[0] == "JSON.MERGE":
        patch = orjson.loads(first[3])
        return all(fields.get(name) == value for name, value in patch.items())
    pairs = iter(first[2:])
    wanted = dict(zip(pairs, pairs, strict=True))
    removed = [name for command in commands[1:] for name in command[2:]]
    return all(fields.get(name) == _bytes(value) for name, value in wanted.items()) and not any(
        name in fields for name in removed
    )


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


async def _exchange(connection: Any, commands: Sequence[Command]) -> list[Any]:
    """Send ``commands`` on ``connection`` in one write; their replies (errors returned)."""
    await connection.send_packed_command(
        b"".join([hiredis.pack_command(tuple(command)) for command in commands])
    )
    return [await read_reply(connection) for _ in commands]


@contextlib.asynccontextmanager
async def _connection(client: Redis) -> AsyncIterator[Any]:
    """A pooled connection to itself (WATCH and MULTI hold to one); dropped on a failure."""
    pool = client.connection_pool
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        yield connection
    except BaseException:
        await connection.disconnect()
        raise
    finally:
        await pool.release(connection)
