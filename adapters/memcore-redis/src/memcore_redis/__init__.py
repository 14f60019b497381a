"""memcore store ``redis``: memories in Redis Stack (RediSearch + RedisJSON).

``MEMCORE_STORE=redis`` selects it (``redis-cluster``: :class:`RedisClusterStore`, for a
Redis Cluster); its settings are ``MEMCORE_REDIS_*`` (see :class:`RedisSettings`).
``memcore_redis.testing`` starts a real server without Docker for tests and local
development (extra ``agent-memcore-redis[testing]``; its pytest fixture loads only on request).
"""

from memcore_redis.cluster import RedisClusterStore
from memcore_redis.errors import map_redis_errors
from memcore_redis.settings import RedisSettings, load_redis_settings
from memcore_redis.store import RedisStore

__all__ = [
    "RedisClusterStore",
    "RedisSettings",
    "RedisStore",
    "load_redis_settings",
    "map_redis_errors",
]
