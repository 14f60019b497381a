"""The first-day CLI case, as a user meets it: ``memcore record`` while Redis is down.

Each command is its own process, as in a shell: the write is deferred (printed, exit 75)
to the durable outbox in the state directory, the process dies (exits, or is killed
outright), the server comes up, and the next command of any kind hands the write over.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis

from memcore_redis.testing import EmbeddedRedis, free_port

from .report import CASE_ZEROS, Case


def _memcore(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "memcore", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


@pytest.mark.case("memcore record while Redis is down, then the process killed")
async def test_a_deferred_cli_write_survives_the_process_and_lands_once(
    tmp_path: Path, case: Case
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MEMCORE_STORE": "redis",
        "MEMCORE_EMBEDDER": "hashing",
        "MEMCORE_REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "MEMCORE_STATE_DIR": str(tmp_path / "state"),
    }
    exited = _memcore(env, "record", "-u", "u1", "--task", "t", "first")
    out, _ = exited.communicate(timeout=60)
    assert "deferred (not yet stored)" in out
    assert exited.returncode == 75  # EX_TEMPFAIL: not an error, not stored either
    killed = _memcore(env, "record", "-u", "u1", "--task", "t", "second")
    assert killed.stdout is not None
    assert "deferred (not yet stored)" in killed.stdout.readline()
    killed.kill()  # no clean shutdown: what the journal holds is what survives
    killed.communicate(timeout=60)
    with EmbeddedRedis(port=port) as server:
        stats = _memcore(env, "stats", "-u", "u1", "--json")
        counted = json.loads(stats.communicate(timeout=60)[0])["interventions"]
        raw = Redis.from_url(server.url, protocol=2)
        keys = [key async for key in raw.scan_iter(match="memcore:{*", count=100)]
        await raw.aclose()
    case.lost += max(0, 2 - len(keys))
    case.duplicated += max(0, len(keys) - 2)
    case.read(complete=True, seen=counted, expected=2)
    assert counted == len(keys) == 2
    assert {name: getattr(case, name) for name in CASE_ZEROS} == dict.fromkeys(CASE_ZEROS, 0)
