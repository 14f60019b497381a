"""``memcore migrate`` on data written by the layout before
(:mod:`memcore_redis.testing.legacy_writer`), run as a subprocess against the real
server: a dry run, a migration read back through the store, a kill -9 halfway and a
rerun, and writes of both versions while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from dataclasses import replace
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from memcore.domain import Intervention, MemoryRecord, SearchFilter
from memcore.ports import UnitVectors
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention, reflection
from memcore_redis import RedisStore
from memcore_redis.commands import call
from memcore_redis.layout import VectorSpec, layout_for
from memcore_redis.legacy import FIELDS, VERSIONS
from memcore_redis.schema import SchemaKeeper
from memcore_redis.testing import legacy_writer

from .conftest import StoreFactory

USERS = ("ana", "José Pérez")


@pytest.fixture(params=["hash", "json"])
def storage_type(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def records_of_two_users(count: int, *, text: str = "") -> list[MemoryRecord]:
    """``count`` records, interventions and reflections, spread over :data:`USERS`."""
    made: list[MemoryRecord] = []
    for number in range(count):
        user = USERS[number % len(USERS)]
        if number % 3 == 2:  # one in three
            made.append(reflection(user, number))
        else:
            record = intervention(user, number, metadata={"n": number} if number % 2 else None)
            made.append(replace(record, intervention_text=record.intervention_text + text))
    return made


async def write_old(
    raw: aioredis.Redis, store: RedisStore, records: list[MemoryRecord], seed: int
) -> UnitVectors:
    vectors = unit_vectors(len(records), seed=seed)
    prefix, storage = store.settings.key_prefix, store.settings.storage_type
    pipe = raw.pipeline(transaction=False)
    for record, vector in zip(records, vectors, strict=True):
        pipe.execute_command(*legacy_writer.write(prefix, storage, record, vector))
    await pipe.execute()
    return vectors


async def old_store(raw: aioredis.Redis, make_store: StoreFactory, storage: str) -> RedisStore:
    """A store (not started) whose prefix holds the old index and metadata."""
    store = make_store(storage_type=storage)
    settings = store.settings
    await legacy_writer.create(raw, settings.key_prefix, settings.index, storage, SCHEMA)
    return store


def _command(*options: str) -> list[str]:
    return [sys.executable, "-m", "memcore_redis.migrate_cli", "--json", *options]


def _env(store: RedisStore) -> dict[str, str]:
    settings = store.settings
    return {
        **os.environ,
        "MEMCORE_REDIS_URL": settings.url,
        "MEMCORE_REDIS_KEY_PREFIX": settings.key_prefix,
        "MEMCORE_REDIS_STORAGE_TYPE": settings.storage_type,
    }


async def migrate(store: RedisStore, *options: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        *_command(*options), env=_env(store), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    report: dict[str, Any] = json.loads(out)
    return report


async def _state(raw: aioredis.Redis, store: RedisStore) -> dict[str, Any]:
    found = await raw.get(f"{store.settings.key_prefix}:migration")
    return json.loads(found) if found else {}


async def _meta_version(raw: aioredis.Redis, store: RedisStore) -> int:
    return int(json.loads(await raw.get(f"{store.settings.key_prefix}:meta"))["schema_version"])


def _new_version(store: RedisStore) -> int:
    return layout_for(store.settings.storage_type).version


async def _assert_all_migrated(
    raw: aioredis.Redis, store: RedisStore, records: dict[str, MemoryRecord]
) -> None:
    """Every record reads back as written, once, in the new layout and index."""
    await store.ensure_schema(SCHEMA)
    for user in USERS:
        mine = {r.id: r for r in records.values() if r.user_id == user}
        assert {r.id: r for r in await store.get(user, list(mine))} == mine
        assert await store.count(user, SearchFilter()) == len(mine)
        listed = await store.list(user, SearchFilter(), limit=len(mine) + 1)
        assert sorted(r.id for r in listed.items) == sorted(mine)
    index = store.settings.index
    info = await call(raw, "FT.INFO", index)
    storage = store.settings.storage_type
    assert info[1].decode() == f"{index}-{storage}{_new_version(store)}"  # through the alias
    total = await call(raw, "FT.SEARCH", index, "@kind:{intervention | reflection}", "LIMIT", 0, 0)
    assert total[0] == len(records)
    keys = [key async for key in raw.scan_iter(match=f"{store.settings.key_prefix}:{{*")]
    assert len(keys) == len(records)
    if store.settings.storage_type == "hash":
        for key in keys:
            assert not set(FIELDS) & {name.decode() for name in await raw.hkeys(key)}


async def test_dry_run_counts_and_writes_nothing_then_migrate_reads_back_and_searches(
    raw_redis: aioredis.Redis, make_store: StoreFactory, storage_type: str
) -> None:
    store = await old_store(raw_redis, make_store, storage_type)
    records = records_of_two_users(12)
    vectors = await write_old(raw_redis, store, records, seed=1)

    dry = await migrate(store, "--dry-run")
    assert (dry["status"], dry["records"]) == ("dry_run", len(records))
    assert dry["from_version"] == VERSIONS[storage_type]
    assert await _meta_version(raw_redis, store) == VERSIONS[storage_type]
    assert not await _state(raw_redis, store)

    done = await migrate(store)
    assert (done["status"], done["records"]) == ("migrated", len(records))
    assert not await _state(raw_redis, store)
    await _assert_all_migrated(raw_redis, store, {r.id: r for r in records})
    for record, vector in zip(records, vectors, strict=True):
        (best,) = await store.search(
            record.user_id, UnitVectors(vector[None, :]), 1, SearchFilter()
        )
        assert best.record == record

    again = await migrate(store)
    assert (again["status"], again["records"]) == ("up_to_date", 0)
    await _creation_replayed_keeps_one_index(raw_redis, store)


async def _creation_replayed_keeps_one_index(raw: aioredis.Redis, store: RedisStore) -> None:
    """What the redo log sends after a restart creates no index that hides the alias."""
    settings = store.settings
    layout = layout_for(settings.storage_type)
    keeper = SchemaKeeper(raw, key_prefix=settings.key_prefix, index=settings.index, layout=layout)
    vector = VectorSpec.for_settings(settings, SCHEMA.dimension)
    await keeper.ensure(SCHEMA, vector)
    for command in keeper.creation(SCHEMA, vector):
        with contextlib.suppress(ResponseError):  # "already exists"
            await raw.execute_command(*command)
    mine = [i for i in await call(raw, "FT._LIST") if i.decode().startswith(settings.key_prefix)]
    assert [i.decode() for i in mine] == [f"{settings.index}-{layout.name}{layout.version}"]


async def _kill_when(raw: aioredis.Redis, store: RedisStore, phase: str, *options: str) -> None:
    """Start a migration and kill -9 it once ``phase`` has converted some records."""
    process = await asyncio.create_subprocess_exec(
        *_command(*options), env=_env(store), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    while (state := await _state(raw, store)).get("phase") != phase or state["converted"] < 40:
        assert process.returncode is None, f"finished before {phase}"
        await asyncio.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    await process.wait()


async def test_a_kill_in_each_phase_and_a_rerun_lose_and_duplicate_nothing(
    raw_redis: aioredis.Redis, make_store: StoreFactory
) -> None:
    store = await old_store(raw_redis, make_store, "hash")
    records = records_of_two_users(150)
    await write_old(raw_redis, store, records, seed=2)
    slow = ("--batch-size", "1", "--rate", "300")

    await _kill_when(raw_redis, store, "backfill", *slow)
    await _kill_when(raw_redis, store, "strip", *slow)
    assert await _meta_version(raw_redis, store) == _new_version(store)  # switched before the kill

    done = await migrate(store)
    assert done["resumed"]
    assert 0 < done["passes"]["strip"] < len(records)
    await _assert_all_migrated(raw_redis, store, {r.id: r for r in records})


async def test_writes_of_either_version_during_the_migration_end_in_the_new_index(
    raw_redis: aioredis.Redis, make_store: StoreFactory, storage_type: str
) -> None:
    store = await old_store(raw_redis, make_store, storage_type)
    records = {r.id: r for r in records_of_two_users(60)}
    await write_old(raw_redis, store, list(records.values()), seed=3)
    index = store.settings.index
    process = await asyncio.create_subprocess_exec(
        *_command("--batch-size", "2", "--rate", "300"), env=_env(store),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    before_switch: list[str] = []
    for _ in range(2_000):  # until the migration has started (10 s at most)
        if await _state(raw_redis, store):
            break
        await asyncio.sleep(0.005)
    number = 0
    # The version before writes (new records and changes) and reads through its index.
    originals = records_of_two_users(30, text=" (changed)")
    while await _meta_version(raw_redis, store) != _new_version(store):
        if number < len(originals):
            changed = originals[number]
            new = replace(intervention("ana", number, record_id=f"old{number}"), task="during")
            await write_old(raw_redis, store, [changed, new], seed=100 + number)
            if (await _state(raw_redis, store)).get("phase") in ("backfill", "catch-up"):
                before_switch += [changed.id, new.id]
            records |= {changed.id: changed, new.id: new}
        found = await call(raw_redis, "FT.SEARCH", index, "@user_id:{ana}", "LIMIT", 0, 0)
        assert found[0] >= 30  # what ana had before
        number += 1
        await asyncio.sleep(0.01)
    # This version starts on the switched data and writes while the old fields go.
    await store.ensure_schema(SCHEMA)
    hers = [r for r in records.values() if r.user_id == "ana" and isinstance(r, Intervention)]
    while process.returncode is None:
        changed = replace(hers[number % len(hers)], task="after the switch")
        new = intervention("ana", number, record_id=f"new{number}")
        await store.upsert("ana", [changed, new], unit_vectors(2, seed=number))
        records |= {changed.id: changed, new.id: new}
        assert await store.count("ana", SearchFilter()) >= 30
        number += 1
        await asyncio.sleep(0.02)
    assert await process.wait() == 0, (await process.stderr.read()).decode()  # type: ignore[union-attr]
    assert before_switch
    for user in USERS:  # converted by this run, before and after the switch
        wanted = {i: records[i] for i in before_switch if records[i].user_id == user}
        assert {r.id: r for r in await store.get(user, list(wanted))} == wanted
    # The old processes are replaced; a rerun converts what they wrote after the switch.
    await migrate(store)
    await _assert_all_migrated(raw_redis, store, records)
