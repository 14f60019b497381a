"""Building redis-py clients from :class:`~memcore_redis.RedisSettings`.

Every client memcore-redis makes is pooled, speaks RESP2 (flat replies for ``FT.*``, the
same shape on every server), and **never re-sends a command on its own**: redis-py's
retry is off (``Retry(NoBackoff(), 0)``). Retrying is memcore's decision, taken only
for idempotent operations (see :mod:`memcore.resilience.retry`); a rate-limit script or
an ``XADD`` re-sent by the client after a lost reply would count or log twice.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis, SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from memcore_redis.settings import RedisSettings

__all__ = ["connection_pool", "new_client"]


def connection_pool(settings: RedisSettings, **extra: Any) -> BlockingConnectionPool:
    """A pool that waits (up to ``pool_timeout``) for a free connection."""
    kwargs: dict[str, Any] = {
        "max_connections": settings.max_connections,
        "timeout": settings.pool_timeout,
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.socket_connect_timeout,
        "health_check_interval": settings.health_check_interval,
        "protocol": 2,
        "retry": Retry(NoBackoff(), 0),
        **extra,
    }
    if settings.username is not None:
        kwargs["username"] = settings.username
    if settings.password is not None:
        kwargs["password"] = settings.password.get_secret_value()
    if settings.uses_tls:
        kwargs |= {
            "connection_class": SSLConnection,
            "ssl_cert_reqs": settings.tls_cert_reqs,
            "ssl_check_hostname": settings.tls_check_hostname,
            "ssl_ca_certs": _path(settings.tls_ca_certs),
            "ssl_certfile": _path(settings.tls_certfile),
            "ssl_keyfile": _path(settings.tls_keyfile),
        }
    pool: BlockingConnectionPool = BlockingConnectionPool.from_url(settings.url, **kwargs)
    return pool


def new_client(settings: RedisSettings) -> Redis:
    """A client owning a new pool (closed with the client)."""
    return Redis.from_pool(connection_pool(settings))


def _path(value: object) -> str | None:
    return None if value is None else str(value)
