"""Services for the tests: in-memory with the hashing embedder, and on a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import memcore
from memcore_langchain import connect_sync

# redis_server_url: the session's server (memcore_redis.testing loads only when asked).
pytest_plugins = ["memcore_redis.testing.fixtures"]

USER = "user-42"
NEIGHBOUR = "user-43"  # another user, whose memories must never show


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCORE_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
async def memory() -> AsyncIterator[memcore.MemoryService]:
    """A fresh in-memory service."""
    async with memcore.connect(store="memory", embedder="hashing") as service:
        yield service


@pytest.fixture
def redis(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[memcore.MemoryService]:
    """A fresh service on the session's Redis, on a key prefix of its own.

    Connected with connect_sync: a Redis service is tied to the loop that connected it,
    and the standard suites call it from sync tests and from async ones.
    """
    monkeypatch.setenv("MEMCORE_REDIS_URL", request.getfixturevalue("redis_server_url"))
    monkeypatch.setenv("MEMCORE_REDIS_KEY_PREFIX", f"lc{uuid.uuid4().hex[:12]}")
    with connect_sync(store="redis", embedder="hashing") as service:
        yield service


@pytest.fixture(params=["memory", "redis"])
def service(request: pytest.FixtureRequest) -> memcore.MemoryService:
    """A fresh, empty service on each store: in memory (on the test's loop) and on Redis."""
    return request.getfixturevalue(request.param)
