"""Rate limits shared by every process: GCRA buckets in Redis, one atomic Lua script.

The script runs the same arithmetic as :func:`memcore.resilience.ratelimit.gcra` on the
server's clock (``TIME``), so processes with skewed clocks agree. It checks every bucket
of a call and writes them only if all allow it: a refusal takes nothing. Each bucket is
one string key holding its TAT in microseconds, expiring when the bucket is full again,
so idle users cost no memory.

Its client never re-sends a command on its own (redis-py's retry is off): a re-sent
script could take a second token. Failures are memcore store errors; while Redis is
unreachable, :class:`~memcore.resilience.ratelimit.RateLimits` lets calls through.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from memcore.resilience.ratelimit import Rate
from memcore.settings import MemcoreSettings
from memcore_redis.client import new_client
from memcore_redis.errors import map_redis_errors
from memcore_redis.settings import redis_settings

__all__ = ["RedisRateLimiter"]

_MICROS = 1_000_000

# KEYS: bucket keys. ARGV: interval (microseconds) and burst for each key, in order.
# Returns the wait in microseconds as a string (0: allowed and taken).
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allowed_at = new_tat - burst * interval
  if allowed_at > now and allowed_at - now > wait then wait = allowed_at - now end
  tats[i] = new_tat
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  local ttl = math.ceil((tats[i] - now) / 1000) + 1
  redis.call('SET', key, string.format('%.0f', tats[i]), 'PX', ttl)
end
return '0'
"""


class RedisRateLimiter:
    """A :class:`~memcore.resilience.ratelimit.RateLimiter` on keys ``<prefix>:rl:<key>``.

    It owns ``client`` and closes it in :meth:`aclose`.
    """

    def __init__(self, client: Redis, *, key_prefix: str = "memcore") -> None:
        self._client = client
        self.key_prefix = key_prefix
        self._script: Any = client.register_script(_GCRA)

    @classmethod
    def from_settings(cls, settings: MemcoreSettings) -> RedisRateLimiter:
        """Build from the ``redis`` section of ``settings``, with a client (and pool) of its own."""
        redis = redis_settings(settings)
        return cls(new_client(redis), key_prefix=redis.key_prefix)

    async def acquire(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        keys = [f"{self.key_prefix}:rl:{key}" for key, _ in buckets]
        args: list[int] = []
        for _, rate in buckets:
            args += [round(rate.interval * _MICROS), rate.burst]
        with map_redis_errors("rate_limit"):
            wait = await self._script(keys=keys, args=args)
        return int(wait) / _MICROS

    async def aclose(self) -> None:
        await self._client.aclose()
