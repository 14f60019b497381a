"""Per-user data keys shared through Redis: crypto-shredding across processes."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from memcore.container import build_service
from memcore.errors import DecryptionError
from memcore.pipeline import Pipeline, StoreFront
from memcore.ports import MemoryStore
from memcore.security.encryption import EncryptionPolicy
from memcore.security.keyring import (
    DataKeyStore,
    Keyring,
    KeySource,
    UserDataKeys,
    WrappedKey,
    generate_key,
)
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention
from memcore_redis import RedisSettings
from memcore_redis.client import new_client
from memcore_redis.keystore import RedisDataKeyStore

from .conftest import StoreFactory

KEYRING = Keyring({"k1": b"1" * 32}, "k1")


def key_store(url: str, prefix: str) -> RedisDataKeyStore:
    return RedisDataKeyStore(new_client(RedisSettings(url=url)), key_prefix=prefix)


async def test_add_is_first_writer_wins(redis_server_url: str, raw_redis: aioredis.Redis) -> None:
    store = key_store(redis_server_url, f"k{uuid.uuid4().hex[:8]}")
    assert isinstance(store, DataKeyStore)
    keys = [WrappedKey(f"id{n}", "k1", bytes([n]) * 40) for n in range(20)]
    kept = await asyncio.gather(*(store.add("alice", key) for key in keys))
    assert len(set(kept)) == 1
    assert await store.load("alice") == kept[0]
    stale = next(key for key in keys if key != kept[0])
    assert not await store.replace("alice", stale, keys[1])
    assert await store.replace("alice", kept[0], keys[5])
    assert await store.load("alice") == keys[5]
    assert await store.erase("alice")
    assert not await store.erase("alice")
    assert await store.load("alice") is None
    await store.aclose()
    await raw_redis.delete(store.hash)


def encrypted(store: MemoryStore, keys: KeySource) -> tuple[StoreFront, EncryptionPolicy]:
    policy = EncryptionPolicy(keys)
    return Pipeline([policy]).store(store), policy


async def test_shredding_in_one_process_is_final_for_all(
    make_store: StoreFactory, redis_server_url: str, raw_redis: aioredis.Redis
) -> None:
    backend = make_store()
    prefix = backend.settings.key_prefix
    first, encryption = encrypted(
        backend, UserDataKeys(KEYRING, key_store(redis_server_url, prefix))
    )
    await first.ensure_schema(SCHEMA)
    await first.upsert("alice", [intervention("alice", 1)], unit_vectors(1, seed=1))
    second, _ = encrypted(
        make_store(key_prefix=prefix), UserDataKeys(KEYRING, key_store(redis_server_url, prefix))
    )
    await second.ensure_schema(SCHEMA)
    assert await second.get("alice", ["i1"]) == [intervention("alice", 1)]  # one shared key
    assert await encryption.shred("alice")
    third, _ = encrypted(
        make_store(key_prefix=prefix), UserDataKeys(KEYRING, key_store(redis_server_url, prefix))
    )
    await third.ensure_schema(SCHEMA)
    with pytest.raises(DecryptionError):
        await third.get("alice", ["i1"])
    for store in (first, second, third):
        await store.aclose()
    await raw_redis.delete(f"{prefix}:datakeys")


async def test_the_container_uses_it(
    redis_server_url: str, raw_redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"c{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MEMCORE_REDIS_URL", redis_server_url)
    monkeypatch.setenv("MEMCORE_REDIS_KEY_PREFIX", prefix)
    memory = await build_service(
        store="redis",
        encryption={
            "enabled": True,
            "keys": {"k1": generate_key()},
            "primary_key": "k1",
            "per_user_keys": True,
            "data_key_store": "redis",
        },
    )
    record = (await memory.record_intervention("u", "private words", task="t")).record
    assert await memory.get("u", record.id) == record
    assert await raw_redis.hexists(f"{prefix}:datakeys", "u")
    assert await memory.forget_user("u") == 1
    assert not await raw_redis.hexists(f"{prefix}:datakeys", "u")
    await memory.aclose()
    await raw_redis.execute_command("FT.DROPINDEX", f"{prefix}-idx", "DD")  # type: ignore[no-untyped-call]
    await raw_redis.delete(f"{prefix}:meta", f"{prefix}:epoch")
