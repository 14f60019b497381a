"""Real Redis Stack servers for tests and local development (extra ``[testing]``).

Nothing here is used by the store: it is what a test suite (or ``memcore redis-server``)
needs to run one without Docker.

- :mod:`.server`: :class:`EmbeddedRedis`, :class:`EmbeddedCluster` and
  :func:`redis_stack_url` (``MEMCORE_TEST_REDIS_URL``, else Docker, else embedded);
- :mod:`.fixtures`: the pytest fixture ``redis_server_url``. It is never loaded on its
  own: opt in with ``pytest -p memcore_redis.testing.fixtures`` or a conftest line,
  ``pytest_plugins = ["memcore_redis.testing.fixtures"]``;
- :mod:`.legacy_writer`: records written the way the layout before the readable one
  stored them (hash 2, JSON 3), the data ``memcore migrate`` starts from.
"""

from memcore_redis.testing.server import (
    EmbeddedCluster,
    EmbeddedRedis,
    ServerNotAvailableError,
    find_server_files,
    free_port,
    redis_stack_url,
)

__all__ = [
    "EmbeddedCluster",
    "EmbeddedRedis",
    "ServerNotAvailableError",
    "find_server_files",
    "free_port",
    "redis_stack_url",
]
