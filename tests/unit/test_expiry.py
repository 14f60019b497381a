"""Expiry through the service: ttl per record, retention per kind from settings, and an
expired record gone for every read (the stores' side is in the contract suite).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from memcore import MemoryService, Metrics, Telemetry, ValidationError
from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.domain import utcnow
from memcore.settings import RetentionSettings


async def test_ttl_sets_expires_at_and_the_record_goes(memory: MemoryService) -> None:
    before = utcnow()
    short = await memory.record_intervention("u", "Try box breathing", task="b", ttl=1.5)
    kept = await memory.record_reflection("u", "Mornings work", ttl=timedelta(days=1))
    expires = short.record.expires_at
    assert expires is not None
    assert before + timedelta(seconds=1.5) <= expires <= utcnow() + timedelta(seconds=1.5)
    assert await memory.get("u", short.record.id) == short.record
    await asyncio.sleep((expires - utcnow()).total_seconds() + 0.05)
    assert await memory.get_many("u", [short.record.id, kept.record.id]) == [kept.record]
    assert await memory.search_interventions("u", "box breathing") == []
    assert (await memory.stats("u")).interventions == 0
    health = await memory.health()
    assert next(c for c in health.checks if c.component == "store").facts["expired"] == 0


async def test_retention_per_kind_applies_when_no_ttl_is_given() -> None:
    retention = RetentionSettings(intervention_days=2, reflection_days=None)
    store = InMemoryStore()
    service = MemoryService(store, HashingEmbedder(dimension=16), retention=retention)
    async with service as memory:
        one = (await memory.record_intervention("u", "a", task="t")).record
        batch = await memory.record_interventions("u", [{"intervention_text": "b", "task": "t"}])
        reflection = (await memory.record_reflection("u", "r")).record
        longer = (await memory.record_intervention("u", "c", task="t", ttl=86_400 * 5)).record
    for record in (one, *batch.records):
        assert record.expires_at is not None
        assert abs(record.expires_at - (utcnow() + timedelta(days=2))) < timedelta(minutes=1)
    assert reflection.expires_at is None
    assert longer.expires_at is not None
    assert longer.expires_at > utcnow() + timedelta(days=4)


async def test_expired_records_are_purged_and_counted(memory: MemoryService) -> None:
    await memory.record_intervention("u", "a", task="t", ttl=0.2)
    await asyncio.sleep(0.3)
    await memory.record_intervention("u", "b", task="t")  # a write purges the user's expired
    health = await memory.health()
    assert next(c for c in health.checks if c.component == "store").facts["expired"] == 1


@pytest.mark.parametrize("ttl", [0, -1, "1", True, 10**12, timedelta(0)])
async def test_bad_ttls_are_refused(memory: MemoryService, ttl: object) -> None:
    with pytest.raises(ValidationError) as raised:
        await memory.record_intervention("u", "a", task="t", ttl=ttl)  # type: ignore[arg-type]
    assert raised.value.field == "ttl"
    assert (await memory.stats("u")).interventions == 0


async def test_refresh_on_read_moves_the_expiry_of_what_a_read_returns() -> None:
    retention = RetentionSettings(intervention_days=1, refresh_on_read=True)
    service = MemoryService(InMemoryStore(), HashingEmbedder(dimension=16), retention=retention)
    async with service as memory:
        soon = (
            await memory.record_intervention("u", "Try box breathing", task="b", ttl=0.4)
        ).record
        forever = (await memory.record_reflection("u", "Mornings work")).record
        assert forever.expires_at is None
        for read in (
            memory.get("u", soon.id),
            memory.search_interventions("u", "box breathing"),
            memory.what_worked("u", "box breathing"),
        ):
            await read
            await asyncio.sleep(0.6)
        stored = await memory.get("u", soon.id)  # still here, past its first ttl
        assert stored.expires_at is not None
        assert stored.expires_at > utcnow() + timedelta(hours=23)
        assert stored.updated_at is None
        assert (await memory.get("u", forever.id)).expires_at is None


async def test_without_refresh_on_read_a_read_changes_nothing(memory: MemoryService) -> None:
    record = (await memory.record_intervention("u", "a", task="t", ttl=60)).record
    await memory.get("u", record.id)
    assert await memory.get("u", record.id) == record


async def test_expired_records_reach_the_metrics() -> None:
    metrics = Metrics()
    service = MemoryService(
        InMemoryStore(), HashingEmbedder(dimension=16), telemetry=Telemetry(metrics=metrics)
    )
    async with service as memory:
        await memory.record_intervention("u", "a", task="t", ttl=0.1)
        await asyncio.sleep(0.2)
        await memory.record_intervention("u", "b", task="t")
        await memory.health()
    assert b"memcore_store_expired_records 1.0" in metrics.exposition()
