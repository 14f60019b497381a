"""Settings turn each layer on, in the documented order; rotate-key runs from the CLI."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memcore import ConfigurationError, RateLimitedError
from memcore.cli import app
from memcore.container import build_service
from memcore.errors import AdapterNotFoundError
from memcore.observability import MetricsPolicy
from memcore.pipeline import Port
from memcore.resilience import BreakerPolicy, DegradationPolicy, RateLimitPolicy, RetryPolicy
from memcore.security.audit import AuditPolicy
from memcore.security.encryption import TOKEN_PREFIX, EncryptionPolicy
from memcore.security.keyring import generate_key
from memcore.service import MemoryService

KEY1, KEY2 = generate_key(), generate_key()


def layers(memory: MemoryService, port: Port) -> list[type]:
    return [type(policy) for policy in memory.pipeline.of(port)]


async def test_default_stack_order() -> None:
    memory = await build_service(store="memory", embedder="hashing")
    assert layers(memory, "store") == [DegradationPolicy, BreakerPolicy, MetricsPolicy, RetryPolicy]
    assert layers(memory, "embedder") == [BreakerPolicy, MetricsPolicy, RetryPolicy]
    assert layers(memory, "service") == []
    assert memory.store.inner.backend == "memory"
    await memory.aclose()


async def test_every_layer_on(tmp_path: Path) -> None:
    memory = await build_service(
        encryption={"enabled": True, "keys": {"k1": KEY1}, "primary_key": "k1"},
        audit={"enabled": True, "sink": "file", "file": str(tmp_path / "audit.jsonl")},
        rate_limit={"per_user": 1000, "overall": 1000},
        degradation={"outbox_path": str(tmp_path / "outbox")},
        cache={"backend": "memory"},
    )
    assert layers(memory, "store")[:3] == [AuditPolicy, EncryptionPolicy, DegradationPolicy]
    assert layers(memory, "service") == [RateLimitPolicy]
    assert layers(memory, "embedder")[0].__name__ == "CachePolicy"
    await memory.record_intervention("u", "secret text", task="t")
    await memory.aclose()
    (event,) = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert (event["operation"], event["result"], event["count"]) == ("upsert", "ok", 1)


async def test_less_is_one_setting_away() -> None:
    memory = await build_service(
        breaker={"enabled": False}, degradation={"policy": "raise"}, retry={"enabled": False}
    )
    assert layers(memory, "store") == [MetricsPolicy]
    await memory.aclose()


async def test_rate_limit_settings() -> None:
    memory = await build_service(rate_limit={"per_user": 0.001, "per_user_burst": 1})
    await memory.stats("u")
    with pytest.raises(RateLimitedError):
        await memory.stats("u")
    await memory.stats("v")
    await memory.aclose()


@pytest.mark.parametrize(
    ("overrides", "error", "setting"),
    [
        ({"encryption": {"enabled": True}}, ConfigurationError, "MEMCORE_ENCRYPTION"),
        (
            {"encryption": {"enabled": True, "keys": {"k1": "bad"}, "primary_key": "k1"}},
            ConfigurationError,
            "MEMCORE_ENCRYPTION__KEYS",
        ),
        ({"audit": {"enabled": True, "sink": "file"}}, ConfigurationError, "MEMCORE_AUDIT"),
        (
            {"audit": {"enabled": True, "sink": "kafka"}},
            AdapterNotFoundError,
            "MEMCORE_AUDIT__SINK",
        ),
        (
            {"rate_limit": {"per_user": 1, "backend": "nope"}},
            AdapterNotFoundError,
            "MEMCORE_RATE_LIMIT__BACKEND",
        ),
    ],
)
async def test_bad_security_settings_name_the_variable(
    overrides: dict[str, object], error: type[ConfigurationError], setting: str
) -> None:
    with pytest.raises(error) as raised:
        await build_service(**overrides)
    assert raised.value.setting == setting


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI configures the memcore logger; put it back for the tests that follow."""
    logger = logging.getLogger("memcore")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    for handler in [h for h in logger.handlers if h not in handlers]:
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.mark.usefixtures("restore_logging")
def test_rotate_key_command(tmp_path: Path) -> None:
    env = {
        "MEMCORE_MEMORY__SNAPSHOT_PATH": str(tmp_path / "snapshot.npz"),
        "MEMCORE_HASHING__DIMENSION": "16",
        "MEMCORE_ENCRYPTION__ENABLED": "true",
        "MEMCORE_ENCRYPTION__KEYS": json.dumps({"k1": KEY1}),
        "MEMCORE_ENCRYPTION__PRIMARY_KEY": "k1",
    }
    cli = CliRunner()
    for n in range(3):
        result = cli.invoke(app, ["record", f"secret {n}", "-u", "ana", "--task", "t"], env=env)
        assert result.exit_code == 0, result.output
    snapshot = (tmp_path / "snapshot.npz").read_bytes()
    assert b"secret 1" not in snapshot
    assert f"{TOKEN_PREFIX}k1:".encode() in snapshot
    env |= {
        "MEMCORE_ENCRYPTION__KEYS": json.dumps({"k1": KEY1, "k2": KEY2}),
        "MEMCORE_ENCRYPTION__PRIMARY_KEY": "k2",
    }
    result = cli.invoke(app, ["rotate-key", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "users": 1,
        "scanned": 3,
        "rewritten": 3,
        "keys_rewrapped": 0,
    }
    env["MEMCORE_ENCRYPTION__KEYS"] = json.dumps({"k2": KEY2})  # k1 retired
    result = cli.invoke(app, ["search", "secret", "-u", "ana", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert "secret 2" in result.output
    result = cli.invoke(app, ["rotate-key"], env={**env, "MEMCORE_ENCRYPTION__ENABLED": "false"})
    assert result.exit_code == 1
    assert "MEMCORE_ENCRYPTION__ENABLED" in result.output
