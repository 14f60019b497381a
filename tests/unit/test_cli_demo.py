"""The demo and the basic commands run end to end through the console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def memcore(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memcore", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
        timeout=120,
    )


def test_demo_shows_what_worked_for_each_user() -> None:
    result = memcore("demo", MEMCORE_EMBEDDER="hashing")
    assert result.returncode == 0, result.stderr
    for user in ("demo-ana", "demo-ben", "demo-chen"):
        assert user in result.stdout
    assert "task_completed" in result.stdout
    assert "no_response" not in result.stdout  # the demo filters on the outcome


def test_health_as_json_exits_zero_when_healthy() -> None:
    result = memcore("health", "--json", MEMCORE_EMBEDDER="hashing")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "healthy"


def test_errors_are_one_line_and_exit_non_zero() -> None:
    result = memcore("stats", "--user", "u", MEMCORE_STORE="cassandra")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "MEMCORE_STORE" in result.stderr
    assert "cassandra" in result.stderr
    assert "Traceback" not in result.stderr
