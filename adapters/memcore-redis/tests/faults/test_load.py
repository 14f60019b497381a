"""Load: 1,000 concurrent writers (1,000 users x 5 records) and concurrent searches on
one connection pool. Every record must be stored, no call may fail, no search may
return another user's record; p50/p99 latencies go to the report.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from memcore import MemoryService, SearchFilter
from memcore.adapters.hashing import HashingEmbedder
from memcore_redis import RedisSettings, RedisStore

from .report import REPORT
from .server import FaultServer

USERS, PER_USER, SEARCHES_PER_USER = 1_000, 5, 2


def quantiles_ms(seconds: list[float]) -> str:
    """``p50/p99`` in milliseconds."""
    ordered = sorted(seconds)
    p50, p99 = (ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.5, 0.99))
    return f"{p50 * 1e3:.1f}/{p99 * 1e3:.1f}"


async def test_thousand_concurrent_writers(fault_server: FaultServer) -> None:
    store = RedisStore(RedisSettings(url=fault_server.url, key_prefix=f"l{uuid.uuid4().hex[:8]}"))
    memory = MemoryService(store, HashingEmbedder(dimension=16))
    await memory.start()
    writes: list[float] = []
    searches: list[float] = []
    errors: list[str] = []
    cross_user = 0

    async def timed(bucket: list[float], call: object) -> object:
        started = time.perf_counter()
        try:
            return await call  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none may happen
            errors.append(type(exc).__name__)
            return None
        finally:
            bucket.append(time.perf_counter() - started)

    async def user_session(u: int) -> None:
        nonlocal cross_user
        user = f"user-{u}"
        for n in range(PER_USER):
            await timed(
                writes,
                memory.record_intervention(user, f"note {n} for {user}", task="t", id=f"r{n}"),
            )
        for _ in range(SEARCHES_PER_USER):
            hits = await timed(searches, memory.search_interventions(user, f"note for {user}", k=5))
            cross_user += sum(hit.record.user_id != user for hit in hits or [])

    started = time.perf_counter()
    await asyncio.gather(*(user_session(u) for u in range(USERS)))
    elapsed = time.perf_counter() - started
    stored = sum(
        await asyncio.gather(*(store.count(f"user-{u}", SearchFilter()) for u in range(USERS)))
    )
    await memory.aclose()
    REPORT.sections["Load (1,000 users x 5 records, one pool of 32 connections)"] = {
        "writes": len(writes),
        "searches": len(searches),
        "records stored": stored,
        "errors": len(errors),
        "cross-user hits": cross_user,
        "write p50/p99 ms": quantiles_ms(writes),
        "search p50/p99 ms": quantiles_ms(searches),
        "wall time s": f"{elapsed:.1f}",
    }
    assert errors == []
    assert stored == USERS * PER_USER
    assert cross_user == 0
