"""The Redis stream audit sink, alone and as the audit policy's sink."""

from __future__ import annotations

import json
import uuid

import pytest
import redis.asyncio as aioredis

from memcore.domain import SearchFilter
from memcore.pipeline import Pipeline
from memcore.security.audit import AuditEvent, AuditPolicy, AuditSink, acting_as
from memcore.settings import load_settings
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention
from memcore_redis import RedisSettings
from memcore_redis.audit import RedisStreamAuditSink
from memcore_redis.client import new_client

from .conftest import StoreFactory


def sink_for(url: str, prefix: str, **kwargs: int) -> RedisStreamAuditSink:
    return RedisStreamAuditSink(new_client(RedisSettings(url=url)), key_prefix=prefix, **kwargs)


async def events(raw: aioredis.Redis, stream: str) -> list[dict[str, object]]:
    return [json.loads(fields[b"event"]) for _, fields in await raw.xrange(stream)]


async def test_events_are_appended_in_order(
    redis_server_url: str, raw_redis: aioredis.Redis
) -> None:
    sink = sink_for(redis_server_url, f"a{uuid.uuid4().hex[:8]}")
    assert isinstance(sink, AuditSink)
    for n in range(3):
        await sink.write(AuditEvent(operation="get", user_id=f"u{n}", result="ok", count=n))
    await sink.aclose()
    assert [e["user_id"] for e in await events(raw_redis, sink.stream)] == ["u0", "u1", "u2"]
    await raw_redis.delete(sink.stream)


async def test_the_stream_is_capped(redis_server_url: str, raw_redis: aioredis.Redis) -> None:
    sink = sink_for(redis_server_url, f"a{uuid.uuid4().hex[:8]}", max_events=100)
    for _ in range(1_000):
        await sink.write(AuditEvent(operation="count", user_id="u", result="ok"))
    await sink.aclose()
    assert 100 <= await raw_redis.xlen(sink.stream) < 1_000
    await raw_redis.delete(sink.stream)


async def test_every_store_call_is_audited_without_content(
    make_store: StoreFactory, redis_server_url: str, raw_redis: aioredis.Redis
) -> None:
    redis_store = make_store()
    sink = sink_for(redis_server_url, redis_store.settings.key_prefix)
    audit = AuditPolicy(sink, backend=redis_store.backend, actor="agent")
    store = Pipeline([audit]).store(redis_store)
    await store.ensure_schema(SCHEMA)
    await store.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=1))
    with acting_as("support:jane"):
        await store.search("u", unit_vectors(1, seed=1)[0], 3, SearchFilter())
        await store.forget_user("u")
    await store.aclose()
    logged = await events(raw_redis, sink.stream)
    assert [(e["operation"], e["actor"], e["result"]) for e in logged] == [
        ("upsert", "agent", "ok"),
        ("search", "support:jane", "ok"),
        ("forget_user", "support:jane", "ok"),
    ]
    assert "breathing" not in json.dumps(logged)
    await raw_redis.delete(sink.stream)


async def test_built_from_settings(redis_server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCORE_REDIS_URL", redis_server_url)
    sink = RedisStreamAuditSink.from_settings(load_settings())
    await sink.write(AuditEvent(operation="get", user_id="u", result="ok"))
    await sink.aclose()
