"""The hostile-input suite runs against the store named by ``--hostile-store``.

``memory`` (default) needs nothing; ``redis`` needs ``agent-memcore-redis[testing]`` and starts
its own embedded server through that package's pytest fixture, loaded here on request.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.ports import MemoryStore
from memcore.service import MemoryService

DIMENSION = 32


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--hostile-store",
        default="memory",
        choices=("memory", "redis"),
        help="store backend the hostile-input suite attacks",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--hostile-store") == "redis":
        config.pluginmanager.import_plugin("memcore_redis.testing.fixtures")  # redis_server_url


@pytest.fixture
async def fresh_store(request: pytest.FixtureRequest) -> AsyncIterator[MemoryStore]:
    """A new empty store of the chosen backend (Redis: its own key prefix and index)."""
    if request.config.getoption("--hostile-store") == "memory":
        store = InMemoryStore()
        yield store
        await store.aclose()
        return
    # Imported here: the core test run does not install agent-memcore-redis.
    from redis.asyncio import Redis  # noqa: PLC0415

    from memcore_redis import RedisSettings, RedisStore  # noqa: PLC0415

    url = request.getfixturevalue("redis_server_url")
    redis_store = RedisStore(RedisSettings(url=url, key_prefix=f"h{uuid.uuid4().hex[:12]}"))
    yield redis_store
    await redis_store.aclose()
    raw = Redis.from_url(url)
    await raw.execute_command("FT.DROPINDEX", redis_store.index_name, "DD")  # type: ignore[no-untyped-call]
    await raw.aclose()


@pytest.fixture
async def memory(fresh_store: MemoryStore) -> AsyncIterator[MemoryService]:
    """A started service over the chosen store and a small hashing embedder."""
    service = MemoryService(fresh_store, HashingEmbedder(dimension=DIMENSION))
    await service.start()
    yield service
    await service.embedder.aclose()
