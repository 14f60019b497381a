"""First-day cases about setting up: the store down at start, a bad URL, a fresh server's
health, the development server's data directory, a bad item in a batch.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

import memcore
from memcore import ConfigurationError, HealthStatus, SearchFilter, ValidationError
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.testing import free_port

from .report import CASE_ZEROS, Case
from .server import FaultServer


def assert_zero(case: Case) -> None:
    assert {name: getattr(case, name) for name in CASE_ZEROS} == dict.fromkeys(CASE_ZEROS, 0)


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMCORE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MEMCORE_STORE", "redis")
    monkeypatch.setenv("MEMCORE_EMBEDDER", "hashing")


@pytest.mark.case("store down at start: reads and health")
async def test_reads_while_the_store_is_down_at_start_say_degraded(
    settings: None, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    del settings
    monkeypatch.setenv("MEMCORE_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setenv("MEMCORE_RETRY__MAX_ATTEMPTS", "1")
    memory = await case.call(memcore.connect())
    results = await case.call(memory.search_interventions("u", "anything"))
    case.read(complete=results.complete, seen=0, expected=1)  # nothing can be complete
    report = await case.call(memory.health())
    assert report.status is not HealthStatus.HEALTHY
    await memory.aclose()
    assert_zero(case)


@pytest.mark.case("a bad Redis URL with a password in it")
async def test_a_bad_url_is_a_configuration_error_that_hides_the_password(
    settings: None, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    del settings
    monkeypatch.setenv("MEMCORE_REDIS_URL", "redis://:hunter2-pw@[bad-host/0")
    with pytest.raises(ConfigurationError) as raised:
        await case.call(memcore.connect())
    assert "hunter2-pw" not in "".join(traceback.format_exception(raised.value))
    shown = repr(RedisSettings(url="redis://:hunter2-pw@localhost:6379/0"))
    assert "hunter2-pw" not in shown
    assert_zero(case)


@pytest.mark.case("memcore health right after the first start on an empty server")
async def test_a_fresh_empty_deployment_is_healthy(
    settings: None, fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    del settings
    monkeypatch.setenv("MEMCORE_REDIS_URL", fault_server.url)
    memory = await case.call(memcore.connect())
    report = await case.call(memory.health())
    assert report.status is HealthStatus.HEALTHY, report
    await memory.aclose()
    assert_zero(case)


@pytest.mark.case("memcore redis-server --data-dir, restarted")
async def test_the_development_server_keeps_its_data_across_a_restart(
    tmp_path: Path, case: Case
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    command = [sys.executable, "-m", "memcore_redis.cli", "--port", str(port)]
    records = [intervention("u", n) for n in range(10)]

    def serve() -> subprocess.Popen[str]:
        process = subprocess.Popen(  # noqa: S603 - our own module
            [*command, "--data-dir", str(tmp_path / "data")],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        assert "ready at" in process.stdout.readline()
        return process

    def stop(process: subprocess.Popen[str]) -> None:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)

    server = serve()
    try:
        store = RedisStore(RedisSettings(url=url))
        await store.ensure_schema(SCHEMA)
        await case.call(store.upsert("u", records, unit_vectors(10, seed=1)))
        await store.aclose()
    finally:
        stop(server)
    server = serve()
    try:
        store = RedisStore(RedisSettings(url=url))
        await store.ensure_schema(SCHEMA)
        counted = await case.call(store.count("u", SearchFilter()))
        await store.aclose()
    finally:
        stop(server)
    case.lost += len(records) - counted
    assert_zero(case)


@pytest.mark.case("a bad value in item 2 of a batch")
async def test_a_batch_error_names_the_item_and_stores_nothing(
    settings: None, fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    del settings
    monkeypatch.setenv("MEMCORE_REDIS_URL", fault_server.url)
    memory = await case.call(memcore.connect())
    items = [{"intervention_text": "ok", "task": "t"}] * 2 + [{"intervention_text": 3, "task": "t"}]
    with pytest.raises(ValidationError) as raised:
        await case.call(memory.record_interventions("u", items))
    assert raised.value.field == "items[2].intervention_text"
    assert (await memory.stats("u")).interventions == 0
    await memory.aclose()
    assert_zero(case)
