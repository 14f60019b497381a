"""First-day cases about the index and the dataset: an index lost underneath and rebuilt,
a write whose index check finds no index, a write that timed out, a flushed server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis
from typer.testing import CliRunner

from memcore import DataLossError, OutcomeUnknownError, SearchFilter, Status, ValidationError
from memcore.adapters.hashing import HashingEmbedder
from memcore.cli import app
from memcore.observability import Metrics, Telemetry
from memcore.service import MemoryService
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.building import LOOK_EVERY
from memcore_redis.commands import call

from .proxy import FaultProxy
from .report import CASE_ZEROS, Case
from .server import FaultServer

RECORDS = 2_000


def assert_zero(case: Case) -> None:
    assert {name: getattr(case, name) for name in CASE_ZEROS} == dict.fromkeys(CASE_ZEROS, 0)


async def fill(store: RedisStore, user: str, count: int) -> None:
    for start in range(0, count, 1_000):
        batch = [intervention(user, n) for n in range(start, min(count, start + 1_000))]
        await store.upsert(user, batch, unit_vectors(len(batch), seed=start))


@pytest.mark.case("index dropped underneath, rebuilt by a new service")
async def test_reads_while_the_index_is_rebuilt_say_partial(
    fault_server: FaultServer, raw: Redis, case: Case
) -> None:
    settings = RedisSettings(url=fault_server.url, key_prefix="rebuilt")
    first = RedisStore(settings)
    await first.ensure_schema(SCHEMA)
    await fill(first, "u", RECORDS)
    await first.aclose()
    await call(raw, "FT.DROPINDEX", first.index_name)  # the records stay
    store = RedisStore(settings)  # a new service: creates the index, which scans them
    await case.call(store.ensure_schema(SCHEMA))
    statuses = []
    while Status.COMPLETE not in statuses:
        counted = await case.call(store.count("u", SearchFilter()))
        hits = await case.call(store.search("u", unit_vectors(1, seed=1)[0], 10, SearchFilter()))
        case.read(complete=counted.complete, seen=counted, expected=RECORDS)
        case.read(complete=hits.complete, seen=len(hits), expected=10)
        statuses += [counted.status, hits.status]
    assert Status.PARTIAL in statuses  # the rebuild was caught in the act
    assert await store.count("u", SearchFilter()) == RECORDS
    await store.aclose()
    assert_zero(case)


async def test_reads_during_a_rebuild_look_at_the_index_at_most_every_half_second(
    fault_server: FaultServer, raw: Redis
) -> None:
    # FT.INFO of a large index costs milliseconds: sent with every read, it tripled a search.
    settings = RedisSettings(url=fault_server.url, key_prefix="looked")
    first = RedisStore(settings)
    await first.ensure_schema(SCHEMA)
    await fill(first, "u", RECORDS)
    await first.aclose()
    await call(raw, "FT.DROPINDEX", first.index_name)  # the records stay
    store = RedisStore(settings)
    await store.ensure_schema(SCHEMA)  # recreates the index, which scans them
    before = await _calls(raw, "FT.INFO")
    began, partial = time.monotonic(), 0
    while not (await store.count("u", SearchFilter())).complete:
        partial += 1
    looks = await _calls(raw, "FT.INFO") - before
    assert partial >= 2  # the rebuild was caught in the act
    assert 1 <= looks <= 2 + (time.monotonic() - began) / LOOK_EVERY
    assert await store.count("u", SearchFilter()) == RECORDS
    await store.aclose()


async def _calls(raw: Redis, command: str) -> int:
    stats = await raw.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {"calls": 0})["calls"])


async def test_forgetting_a_user_during_a_rebuild_misses_nothing(
    fault_server: FaultServer, raw: Redis
) -> None:
    settings = RedisSettings(url=fault_server.url, key_prefix="forget")
    first = RedisStore(settings)
    await first.ensure_schema(SCHEMA)
    await fill(first, "u", RECORDS)
    await first.aclose()
    await call(raw, "FT.DROPINDEX", first.index_name)
    store = RedisStore(settings)
    await store.ensure_schema(SCHEMA)  # the index starts its scan
    assert await store.user_ids() == ["u"]  # its records indexed yet or not
    assert await store.forget_user("u") == RECORDS
    assert [key async for key in raw.scan_iter(match="forget:{*", count=1_000)] == []
    await store.aclose()


async def test_user_ids_say_partial_until_an_index_dropped_underneath_is_rebuilt(
    fault_server: FaultServer, raw: Redis
) -> None:
    store = RedisStore(RedisSettings(url=fault_server.url, key_prefix="users"))
    service = MemoryService(store, HashingEmbedder(dimension=SCHEMA.dimension))
    await service.start()
    users = ["a", "b", "c"]
    for user in users:
        await fill(store, user, RECORDS // 2)
    whole = await service.store.user_ids()
    assert (whole, whole.status) == (users, Status.COMPLETE)
    await call(raw, "FT.DROPINDEX", store.index_name)  # the records stay
    statuses = []
    while Status.COMPLETE not in statuses:  # the first call recreates the index
        found = await service.store.user_ids()
        assert found == users  # a SCAN finds the users the index does not have yet
        statuses.append(found.status)
    assert statuses[0] is Status.PARTIAL  # caught before the scan ended
    assert set(statuses[:-1]) == {Status.PARTIAL}
    assert (await service.store.user_ids()).complete
    await service.aclose()


@pytest.mark.case("index recreated by another process under a running service")
async def test_an_index_recreated_elsewhere_makes_reads_partial(
    fault_server: FaultServer, raw: Redis, case: Case
) -> None:
    settings = RedisSettings(url=fault_server.url, key_prefix="elsewhere")
    running = RedisStore(settings)
    await running.ensure_schema(SCHEMA)
    await fill(running, "u", RECORDS)
    assert (await running.count("u", SearchFilter())).complete  # seen whole once
    await call(raw, "FT.DROPINDEX", running.index_name)
    other = RedisStore(settings)
    await other.ensure_schema(SCHEMA)  # recreates it; the scan starts
    counted = await case.call(running.count("u", SearchFilter()))
    case.read(complete=counted.complete, seen=counted, expected=RECORDS)
    assert counted.status is Status.PARTIAL
    await other.aclose()
    await running.aclose()
    assert_zero(case)


@pytest.mark.case("write finds its index gone after the records landed")
async def test_a_write_without_index_converges_instead_of_failing(
    fault_server: FaultServer, raw: Redis, case: Case
) -> None:
    store = RedisStore(RedisSettings(url=fault_server.url, key_prefix="noindex"))
    service = MemoryService(store, HashingEmbedder(dimension=16))
    await service.start()
    await call(raw, "FT.DROPINDEX", store.index_name)
    receipt = await case.call(service.record_intervention("u", "hi", task="t"))
    assert receipt.stored
    for _ in range(100):  # the recreated index scans the record
        stats = await case.call(service.stats("u"))
        if stats.status is Status.COMPLETE:
            break
        await asyncio.sleep(0.02)
    case.read(complete=stats.status is Status.COMPLETE, seen=stats.interventions, expected=1)
    case.duplicated += max(0, stats.interventions - 1)
    case.lost += stats.interventions == 0
    await service.aclose()
    assert_zero(case)


@pytest.mark.case("write times out, retried with its ids")
async def test_a_write_that_timed_out_names_its_ids_and_a_retry_keeps_one(
    proxy: FaultProxy, raw: Redis, case: Case
) -> None:
    settings = RedisSettings(url=proxy.url, key_prefix="timeout", socket_timeout=0.3)
    store = RedisStore(settings)
    await store.ensure_schema(SCHEMA)
    records = [intervention("u", 1), intervention("u", 2)]
    proxy.latency = 0.4  # the answer comes after the client gave up
    with pytest.raises(OutcomeUnknownError) as raised:
        await case.call(store.upsert("u", records, unit_vectors(2, seed=1)))
    assert raised.value.record_ids == ("i1", "i2")
    assert raised.value.retryable
    proxy.latency = 0.0
    retry = [r for r in records if r.id in raised.value.record_ids]
    await case.call(store.upsert("u", retry, unit_vectors(2, seed=1)))
    await case.call(store.upsert("u", retry, unit_vectors(2, seed=1)))  # and again
    keys = [key async for key in raw.scan_iter(match="timeout:{*", count=100)]
    case.duplicated += len(keys) - 2
    case.lost += 2 - len(keys)
    await store.aclose()
    assert_zero(case)


@pytest.mark.case("FLUSHALL under a running service, and at the next start")
async def test_a_flushed_server_is_data_loss_now_and_at_the_next_start(
    fault_server: FaultServer,
    raw: Redis,
    case: Case,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = RedisSettings(url=fault_server.url, key_prefix="flushed")
    metrics = Metrics()
    store = RedisStore(settings, state_dir=tmp_path)
    service = MemoryService(
        store, HashingEmbedder(dimension=16), telemetry=Telemetry(metrics=metrics)
    )
    await service.start()
    await service.record_intervention("u", "remember me", task="t")
    await raw.flushall()
    with caplog.at_level(logging.ERROR, logger="memcore_redis"), pytest.raises(DataLossError):
        await case.call(service.search_interventions("u", "remember"))
    assert "lost data it had acknowledged" in caplog.text
    with pytest.raises(DataLossError):  # every call stops, writes too
        await case.call(service.record_intervention("u", "more", task="t"))
    errors = metrics.registry.get_sample_value(
        "memcore_errors_total",
        {"operation": "record_intervention", "backend": "redis", "error_type": "DataLossError"},
    )
    assert errors == 1
    await service.aclose()
    restarted = RedisStore(settings, state_dir=tmp_path)  # the next start, same machine
    with pytest.raises(DataLossError, match="dataset was replaced"):
        await case.call(restarted.ensure_schema(SCHEMA))
    await restarted.aclose()
    assert_zero(case)


@pytest.mark.case("one user id typed composed, then decomposed")
async def test_composed_and_decomposed_ids_are_one_user_on_redis(
    fault_server: FaultServer, case: Case
) -> None:
    nfc, nfd = "Jos\u00e9 P\u00e9rez", "Jose\u0301 Pe\u0301rez"
    store = RedisStore(RedisSettings(url=fault_server.url, key_prefix="nfc"))
    service = MemoryService(store, HashingEmbedder(dimension=16))
    await service.start()
    await case.call(service.record_intervention(nfc, "breathe", task="calm\u0301"))
    await case.call(service.record_intervention(nfd, "walk", task="calm\u0301"))
    assert await store.user_ids() == [nfc]
    for user in (nfc, nfd):
        found = await case.call(service.search_interventions(user, "breathe", k=5))
        case.lost += 2 - len(found)
        tasks = await case.call(service.list(user, filters={"task": "cal\u1e3f"}))
        case.lost += 2 - len(tasks.items)
    with pytest.raises(ValidationError, match="line separators"):
        await case.call(service.record_intervention("a\u2028b", "x", task="t"))
    await service.aclose()
    assert_zero(case)


def test_the_cli_warns_while_the_user_list_is_partial(
    fault_server: FaultServer, tmp_path: Path
) -> None:
    """``memcore export`` and ``memcore stats`` of every user, in the process, right after
    the index was dropped: each run recreates it, and warns until it is built.
    """
    env = {
        "MEMCORE_STORE": "redis",
        "MEMCORE_EMBEDDER": "hashing",
        "MEMCORE_HASHING__DIMENSION": str(SCHEMA.dimension),
        "MEMCORE_REDIS_URL": fault_server.url,
        "MEMCORE_STATE_DIR": str(tmp_path / "state"),
    }
    users = ["a", "b", "c"]

    async def seed() -> None:
        store = RedisStore(RedisSettings(url=fault_server.url))
        service = MemoryService(store, HashingEmbedder(dimension=SCHEMA.dimension))
        await service.start()
        for user in users:
            await fill(store, user, RECORDS // 2)
        await service.aclose()
        raw = Redis.from_url(fault_server.url, protocol=2)
        await call(raw, "FT.DROPINDEX", store.index_name)  # the records stay
        await raw.aclose()

    asyncio.run(seed())
    cli = CliRunner()
    exported = cli.invoke(app, ["export", str(tmp_path / "out.jsonl"), "--json"], env=env)
    assert exported.exit_code == 0, exported.output
    assert "warning: the user list is partial" in exported.stderr
    assert f'"users": {len(users)}' in exported.stdout  # the SCAN found every user
    warned = True
    for _ in range(200):
        stats = cli.invoke(app, ["stats", "--json"], env=env)
        assert stats.exit_code == 0, stats.output
        warned = "warning: the user list is partial" in stats.stderr
        if not warned:
            break
        time.sleep(0.02)
    assert not warned
    assert json.loads(stats.stdout)["interventions"] == len(users) * (RECORDS // 2)
