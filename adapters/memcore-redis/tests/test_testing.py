"""The embedded server launcher, its resolution order and the CLI command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import redis

from memcore_redis.testing.server import (
    TEST_URL_ENV,
    EmbeddedRedis,
    find_server_files,
    free_port,
    ping,
    redis_stack_url,
)


def test_the_server_files_come_from_the_wheels() -> None:
    files = find_server_files()
    assert files.server.name == "valkey-server"
    assert files.server.is_file()
    assert {path.name for path in files.modules.values()} == {"redisearch.so", "rejson.so"}


def test_an_embedded_server_starts_and_stops_cleanly() -> None:
    server = EmbeddedRedis()
    with server:
        assert server.running
        assert ping("127.0.0.1", server.port or 0)
        port = server.port
    assert not server.running
    assert not ping("127.0.0.1", port or 0)


def test_a_configured_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_URL_ENV, "redis://example.invalid:6379/0")
    with redis_stack_url() as url:
        assert url == "redis://example.invalid:6379/0"


def test_the_cli_serves_until_interrupted() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    process = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "memcore_redis.cli", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().decode()
        assert f"ready at redis://127.0.0.1:{port}/0" in ready
        assert ping("127.0.0.1", port)
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "stopping" in out.decode()
    assert not ping("127.0.0.1", port)


def _serve(*args: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "memcore_redis.cli", *args], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    assert "ready at" in process.stdout.readline().decode()
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=20)


def test_the_cli_with_a_data_dir_keeps_the_data_across_restarts(tmp_path: Path) -> None:
    port = str(free_port())
    process = _serve("--port", port, "--data-dir", str(tmp_path))
    try:
        with redis.Redis(port=int(port)) as client:
            assert client.config_get("appendonly") == {"appendonly": "yes"}
            assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
            client.set("kept", "yes")
    finally:
        _stop(process)
    process = _serve("--port", port, "--data-dir", str(tmp_path))
    try:
        with redis.Redis(port=int(port)) as client:
            assert client.get("kept") == b"yes"
    finally:
        _stop(process)


def test_the_fixture_loads_only_when_asked_for(pytester: pytest.Pytester) -> None:
    # An application's own test run, with agent-memcore-redis installed: no redis_server_url.
    pytester.makepyfile("def test_uses_it(redis_server_url):\n    pass\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(errors=1)
    assert not [ep for ep in entry_points(group="pytest11") if ep.value.startswith("memcore")]
