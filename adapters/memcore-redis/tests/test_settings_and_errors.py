"""Settings from the environment, the registry entry, and the one error mapping."""

from __future__ import annotations

import traceback
import uuid

import pytest
from redis import exceptions as rex

import memcore
from memcore import connect
from memcore.errors import (
    ConfigurationError,
    StoreError,
    StoreFullError,
    StoreTimeoutError,
    StoreUnavailableError,
    VectorSearchError,
)
from memcore.registry import stores
from memcore.settings import MemcoreSettings
from memcore_redis import RedisSettings, RedisStore, load_redis_settings, map_redis_errors


async def test_the_registry_builds_the_store_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEMCORE_REDIS_URL", "redis://127.0.0.1:1/3")
    monkeypatch.setenv("MEMCORE_REDIS_KEY_PREFIX", "app")
    monkeypatch.setenv("MEMCORE_REDIS_STORAGE_TYPE", "JSON")
    monkeypatch.setenv("MEMCORE_REDIS_VECTOR_DATATYPE", "float16")
    monkeypatch.setenv("MEMCORE_REDIS_PASSWORD", "s3cret")
    store = stores.create(MemcoreSettings(), "redis")
    try:
        assert isinstance(store, RedisStore)
        assert store.settings.storage_type == "json"
        assert store.settings.vector_datatype == "FLOAT16"
        assert store.index_name == "app-idx"
        assert "s3cret" not in repr(store.settings)
    finally:
        await store.aclose()


async def test_connect_takes_the_redis_section_in_code(redis_server_url: str) -> None:
    prefix = f"s{uuid.uuid4().hex[:12]}"
    section = {"url": redis_server_url, "key_prefix": prefix, "storage_type": "json"}
    async with memcore.connect(store="redis", embedder="hashing", redis=section) as memory:
        assert memory.store.target.endswith(f"#{prefix}-idx")
        receipt = await memory.record_intervention(
            "u1", "Breathe.", task="calm", outcome="task_completed"
        )
        assert receipt.stored
        await memory.forget_user("u1")
    with pytest.raises(ConfigurationError, match="did you mean 'url'"):
        await memcore.connect(store="redis", redis={"ulr": redis_server_url})
    with pytest.raises(ConfigurationError, match=r"did you mean redis=\{'url': ...\}"):
        await memcore.connect(store="redis", redis_url=redis_server_url)


def test_an_unknown_redis_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCORE_REDIS_KEY_PREFX", "app")
    with pytest.raises(ConfigurationError, match="did you mean 'MEMCORE_REDIS_KEY_PREFIX'"):
        stores.create(MemcoreSettings(), "redis")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MEMCORE_REDIS_URL", "http://example.com"),
        ("MEMCORE_REDIS_KEY_PREFIX", "a:{b}*"),
        ("MEMCORE_REDIS_MAX_CONNECTIONS", "0"),
        ("MEMCORE_REDIS_STORAGE_TYPE", "xml"),
        ("MEMCORE_REDIS_HNSW_M", "many"),
        ("MEMCORE_REDIS_VECTOR_DATATYPE", "FLOAT8"),
    ],
)
def test_a_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        load_redis_settings()
    assert raised.value.setting == variable
    assert variable in str(raised.value)


@pytest.mark.parametrize(
    ("raised", "expected", "retryable"),
    [
        (rex.ConnectionError("refused"), StoreUnavailableError, True),
        (rex.BusyLoadingError("loading"), StoreUnavailableError, True),
        (rex.ReadOnlyError("replica"), StoreUnavailableError, True),
        (rex.TimeoutError("slow"), StoreTimeoutError, True),
        # Cluster replies, as redis-py's parser gives them (their first word cut off):
        (rex.TryAgainError("Multiple keys during rehashing"), StoreUnavailableError, True),
        (rex.MovedError("3999 127.0.0.1:6381"), StoreUnavailableError, True),
        (rex.AskError("3999 127.0.0.1:6381"), StoreUnavailableError, True),
        (rex.ClusterDownError("The cluster is down"), StoreUnavailableError, True),
        (rex.MasterDownError("Link with MASTER is down"), StoreUnavailableError, True),
        (rex.AuthenticationError("bad password"), StoreError, False),
        (rex.NoPermissionError("NOPERM"), StoreError, False),
        (rex.ResponseError("Syntax error"), VectorSearchError, False),
        (rex.DataError("bad data"), StoreError, False),
    ],
)
def test_every_redis_error_becomes_a_memcore_error(
    raised: Exception, expected: type[StoreError], retryable: bool
) -> None:
    with pytest.raises(StoreError) as caught, map_redis_errors("search", "u"):
        raise raised
    assert type(caught.value) is expected
    assert caught.value.retryable is retryable
    assert caught.value.__cause__ is raised
    assert (caught.value.operation, caught.value.backend, caught.value.user_id) == (
        "search",
        "redis",
        "u",
    )


def test_a_rejected_command_outside_search_is_a_plain_store_error() -> None:
    with pytest.raises(StoreError) as caught, map_redis_errors("upsert"):
        raise rex.ResponseError("WRONGTYPE Operation against a key holding the wrong kind")
    assert type(caught.value) is StoreError


@pytest.mark.parametrize(
    "raised",
    [
        rex.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
        rex.ResponseError("OOM command not allowed when used memory > 'maxmemory'."),
    ],
)
def test_a_full_server_is_a_store_full_error_not_retried(raised: Exception) -> None:
    with pytest.raises(StoreFullError) as caught, map_redis_errors("upsert"):
        raise raised
    assert not caught.value.retryable
    assert "maxmemory" in str(caught.value)


def test_settings_never_show_the_password() -> None:
    settings = RedisSettings(url="redis://bob:s3cret-pw@cache.internal:6380/2")
    for shown in (repr(settings), str(settings)):
        assert "s3cret-pw" not in shown
        assert "redis://bob:***@cache.internal:6380/2" in shown
    assert RedisStore(settings).target == "redis://cache.internal:6380/2#memcore-idx"


async def test_connect_with_a_bad_url_is_a_configuration_error_without_the_password(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MEMCORE_STORE", "redis")
    monkeypatch.setenv("MEMCORE_REDIS_URL", "redis://:pw-s3cret@[bad-host/0")
    with pytest.raises(ConfigurationError) as raised:
        async with connect():
            pass
    assert raised.value.setting == "MEMCORE_REDIS_URL"
    shown = "".join(traceback.format_exception(raised.value)) + caplog.text
    assert "Invalid IPv6 URL" in shown
    assert "pw-s3cret" not in shown
