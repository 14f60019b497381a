"""Faults injected into a real server under a write workload; every row of the report.

Each test runs users writing records in order through the resilience stack while one
fault hits, then counts: promised records (acknowledged or deferred) present after
recovery, lost, duplicated, orphan keys, indexing failures. The zeros are asserted.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from redis.asyncio import Redis

from memcore import MemoryService, SearchFilter, StoreFullError
from memcore_redis.commands import call
from memcore_redis.testing import free_port

from .proxy import FaultProxy
from .server import FaultServer
from .workload import Stack, Tally, build_stack, describe, verify, write_load

USERS, PER_USER = 10, 30


def assert_clean(tally: Tally) -> None:
    assert (tally.lost, tally.duplicated, tally.orphan_keys, tally.indexing_failures) == (
        0,
        0,
        0,
        0,
    ), tally
    assert tally.present == tally.acknowledged + tally.deferred


async def under_fault(stack: Stack, tally: Tally, fault: object) -> dict[str, set[str]]:
    load = asyncio.ensure_future(
        write_load(stack, tally, users=USERS, per_user=PER_USER, pause=0.005)
    )
    await fault  # type: ignore[misc]
    return await load


async def verify_after_restart(
    server: FaultServer, stack: Stack, raw: Redis, tally: Tally, promised: dict[str, set[str]]
) -> None:
    """:func:`verify` on a new client: ``raw``'s connection died with the server."""
    await raw.aclose()
    fresh = Redis.from_url(server.url, protocol=2)
    await verify(stack, fresh, tally, promised)
    await fresh.aclose()


@pytest.mark.fault("SIGKILL + restart (AOF everysec)")
async def test_sigkill_and_restart(
    fault_server: FaultServer, stack: Stack, raw: Redis, tally: Tally
) -> None:
    async def kill_and_restart() -> None:
        await asyncio.sleep(0.1)
        fault_server.kill()
        tally.injected += 1
        await asyncio.sleep(0.3)
        await asyncio.to_thread(fault_server.start)

    promised = await under_fault(stack, tally, kill_and_restart())
    await verify_after_restart(fault_server, stack, raw, tally, promised)
    assert tally.deferred > 0
    assert_clean(tally)


@pytest.mark.fault("SIGKILL + restart, the AOF's last writes lost (slow disk)")
@pytest.mark.appendfsync("always")  # so the AOF holds each write once acknowledged
async def test_sigkill_losing_the_aof_tail(
    fault_server: FaultServer, stack: Stack, raw: Redis, tally: Tally
) -> None:
    """With a slow disk Redis postpones AOF writes for up to 2 s, so a kill loses writes
    it acknowledged: here the AOF is cut back after the kill to what it held 0.1 s
    earlier. The store sends its recent writes again after the restart.
    """
    dropped = 0

    async def kill_losing_the_tail() -> None:
        nonlocal dropped
        await asyncio.sleep(0.1)
        kept = fault_server.aof_written
        await asyncio.sleep(0.1)  # acknowledged in this time, then lost
        for _ in range(500):  # a slow fsync: wait (5 s at most) for one write at least
            if fault_server.aof_written > kept:
                break
            await asyncio.sleep(0.01)
        fault_server.kill()
        tally.injected += 1
        dropped = fault_server.drop_aof_after(kept)
        await asyncio.to_thread(fault_server.start)

    promised = await under_fault(stack, tally, kill_losing_the_tail())
    tally.outcome = f"{describe(stack, tally)}; the AOF lost {dropped} bytes of acknowledged writes"
    await verify_after_restart(fault_server, stack, raw, tally, promised)
    assert dropped > 0
    assert_clean(tally)


@pytest.mark.fault("SIGSTOP past the socket timeout")
async def test_frozen_server(
    fault_server: FaultServer, stack: Stack, raw: Redis, tally: Tally
) -> None:
    async def freeze() -> None:
        await asyncio.sleep(0.1)
        fault_server.freeze()
        tally.injected += 1
        await asyncio.sleep(2.5)  # longer than all retries of a call together
        fault_server.thaw()

    promised = await under_fault(stack, tally, freeze())
    await verify(stack, raw, tally, promised)
    assert_clean(tally)


@pytest.mark.fault("CLIENT PAUSE WRITE")
async def test_client_pause(stack: Stack, raw: Redis, tally: Tally) -> None:
    async def pause() -> None:
        await asyncio.sleep(0.1)
        await call(raw, "CLIENT", "PAUSE", 2500, "WRITE")
        tally.injected += 1

    promised = await under_fault(stack, tally, pause())
    await verify(stack, raw, tally, promised)
    assert_clean(tally)


@pytest.mark.fault("maxmemory + noeviction (OOM)")
async def test_out_of_memory(stack: Stack, raw: Redis, tally: Tally) -> None:
    await call(raw, "CONFIG", "SET", "maxmemory-policy", "noeviction")
    used = int((await raw.info("memory"))["used_memory"])
    await call(raw, "CONFIG", "SET", "maxmemory", used + 64 * 1024)
    tally.injected += 1
    promised = await write_load(stack, tally, users=USERS, per_user=PER_USER)
    assert tally.errors.get("StoreFullError", 0) > 0, tally.errors  # typed, not deferred
    assert "StoreFullError" not in stack.retries  # not retried
    with pytest.raises(StoreFullError, match="maxmemory") as raised:
        await stack.service.record_interventions(
            "batch-user",
            [{"intervention_text": f"CANARY {n}", "task": "t", "id": f"b{n}"} for n in range(20)],
        )
    assert "CANARY" not in str(raised.value)  # the failed command's arguments are not echoed
    assert await stack.redis.count("batch-user", SearchFilter()) == 0  # all or nothing
    await call(raw, "CONFIG", "SET", "maxmemory", 0)
    await verify(stack, raw, tally, promised)
    assert_clean(tally)


@pytest.mark.fault("FT.DROPINDEX underneath")
async def test_index_dropped(
    fault_server: FaultServer, stack: Stack, raw: Redis, tally: Tally
) -> None:
    promised = await write_load(stack, tally, users=USERS, per_user=5)
    await call(raw, "FT.DROPINDEX", stack.redis.index_name)  # keeps the documents
    tally.injected += 1
    # The running service recreates it: reads say partial until it is built again.
    results = await stack.service.search_interventions("user-0", "memory", k=5)
    assert not results.complete or len(results) == 5
    tally.outcome = f"search answered {results.status.value}; the index was recreated"
    again = build_stack(fault_server.url, stack.redis.settings.key_prefix)  # a new process
    await again.service.start()
    for _ in range(100):
        info = await call(raw, "FT.INFO", again.redis.index_name)
        if dict(zip(info[::2], info[1::2], strict=True)).get(b"indexing") in (0, b"0"):
            break
        await asyncio.sleep(0.05)
    await verify(again, raw, tally, promised)
    await again.aclose()
    assert_clean(tally)


@pytest.mark.fault("LOADING replies (proxy)")
async def test_loading(proxy: FaultProxy, proxied_stack: Stack, raw: Redis, tally: Tally) -> None:
    stack = proxied_stack

    async def loading() -> None:
        await asyncio.sleep(0.1)
        proxy.reply = b"-LOADING Redis is loading the dataset in memory\r\n"
        tally.injected += 1
        await asyncio.sleep(0.5)
        proxy.reply = None

    promised = await under_fault(stack, tally, loading())
    await verify(stack, raw, tally, promised)
    assert_clean(tally)


@pytest.mark.fault("READONLY (became a replica)")
async def test_readonly(stack: Stack, raw: Redis, tally: Tally) -> None:
    async def demote() -> None:
        await asyncio.sleep(0.1)
        await call(raw, "REPLICAOF", "127.0.0.1", free_port())  # a master that never answers
        tally.injected += 1
        await asyncio.sleep(0.5)
        await call(raw, "REPLICAOF", "NO", "ONE")

    promised = await under_fault(stack, tally, demote())
    await verify(stack, raw, tally, promised)
    assert_clean(tally)


@pytest.mark.fault("connection resets (proxy)")
async def test_connection_resets(
    proxy: FaultProxy, proxied_stack: Stack, raw: Redis, tally: Tally
) -> None:
    stack = proxied_stack

    async def resets() -> None:
        for _ in range(10):
            await asyncio.sleep(0.05)
            proxy.reset()
            tally.injected += 1

    promised = await under_fault(stack, tally, resets())
    await verify(stack, raw, tally, promised)
    assert_clean(tally)


@pytest.mark.fault("latency past the timeout (proxy)")
async def test_latency(proxy: FaultProxy, proxied_stack: Stack, raw: Redis, tally: Tally) -> None:
    stack = proxied_stack

    async def slow() -> None:
        await asyncio.sleep(0.1)
        proxy.latency = 0.6  # socket timeout is 0.5 s
        tally.injected += 1
        await asyncio.sleep(1.0)
        proxy.latency = 0.0

    promised = await under_fault(stack, tally, slow())
    await verify(stack, raw, tally, promised)
    assert_clean(tally)


@pytest.mark.fault("cancellation mid-search")
async def test_cancelled_searches_never_cross_replies(stack: Stack, tally: Tally) -> None:
    users = [f"user-{u}" for u in range(20)]
    for user in users:
        await stack.service.record_intervention(user, f"only {user} has this", task="t", id="own")
    memory: MemoryService = stack.service
    rng = random.Random(7)  # noqa: S311 - a reproducible schedule, not a secret
    mismatched = 0

    async def search(user: str) -> None:
        nonlocal mismatched
        hits = await memory.search_interventions(user, f"only {user} has this", k=1)
        if [hit.record.user_id for hit in hits] != [user]:
            mismatched += 1

    for _ in range(30):
        tasks = [asyncio.ensure_future(search(rng.choice(users))) for _ in range(20)]
        await asyncio.sleep(rng.uniform(0, 0.003))
        for task in tasks[::2]:
            if task.cancel():
                tally.injected += 1
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(search(user) for user in users))
    tally.outcome = f"{mismatched} replies crossed after {tally.injected} cancellations"
    assert tally.injected > 0
    assert mismatched == 0


@pytest.mark.fault("the same write submitted 10 times at once")
async def test_concurrent_duplicate_submissions(stack: Stack, raw: Redis, tally: Tally) -> None:
    calls = [
        stack.service.record_intervention(
            "user-dup", f"logical write {n % 10}", task="t", idempotency_key=f"key-{n % 10}"
        )
        for n in range(100)
    ]
    records = [receipt.record for receipt in await asyncio.gather(*calls)]
    ids = {record.id for record in records}
    tally.injected = len(records) - len(ids)
    tally.acknowledged = len(ids)
    await verify(stack, raw, tally, {"user-dup": ids})
    tally.outcome = f"{len(records)} calls for {len(ids)} logical writes: one record each"
    assert len(ids) == 10
    assert await stack.redis.count("user-dup", SearchFilter()) == 10
    assert_clean(tally)
