"""pytest fixtures for a real Redis Stack; loaded only when asked for.

Opt in with ``pytest -p memcore_redis.testing.fixtures`` or, in a top-level conftest,
``pytest_plugins = ["memcore_redis.testing.fixtures"]``.

``redis_server_url`` (session scope) is the URL of a server with RediSearch and
RedisJSON, resolved by :func:`memcore_redis.testing.server.redis_stack_url`:
``MEMCORE_TEST_REDIS_URL``, else Docker if it answers, else the embedded server.
Nothing starts unless a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memcore_redis.testing.server import redis_stack_url


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """URL of a Redis Stack server shared by the whole test session."""
    with redis_stack_url() as url:
        yield url
