"""An audit sink on a Redis stream, shared by every process of a deployment.

Each event is one ``XADD <prefix>:audit MAXLEN ~ <max_events> * event <json>``: ids and
counts only, never content (see :mod:`memcore.security.audit`). The stream keeps about
the newest ``max_events`` events (trimmed by whole nodes, so never fewer);
``max_events=0`` keeps everything, for your own retention job. Read it with ``XRANGE``
or ``XREAD``, or ship it with a consumer group. The client never re-sends an ``XADD``
by itself, so an event is never doubled.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from memcore.security.audit import AuditEvent
from memcore.settings import MemcoreSettings
from memcore_redis.client import new_client
from memcore_redis.errors import map_redis_errors
from memcore_redis.settings import redis_settings

__all__ = ["RedisStreamAuditSink"]


class RedisStreamAuditSink:
    """An :class:`~memcore.security.audit.AuditSink` on the stream ``<prefix>:audit``.

    It owns ``client`` and closes it in :meth:`aclose`.
    """

    def __init__(
        self, client: Redis, *, key_prefix: str = "memcore", max_events: int = 1_000_000
    ) -> None:
        self._client = client
        self.stream = f"{key_prefix}:audit"
        self.max_events = max_events

    @classmethod
    def from_settings(cls, settings: MemcoreSettings) -> RedisStreamAuditSink:
        """Build from the ``redis`` section of ``settings``, with a client (and pool) of its own."""
        redis = redis_settings(settings)
        return cls(new_client(redis), key_prefix=redis.key_prefix)

    async def write(self, event: AuditEvent) -> None:
        trim: dict[str, Any] = (
            {"maxlen": self.max_events, "approximate": True} if self.max_events else {}
        )
        with map_redis_errors("audit", event.user_id):
            await self._client.xadd(self.stream, {"event": event.to_json()}, **trim)

    async def aclose(self) -> None:
        await self._client.aclose()
