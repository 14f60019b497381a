"""Per-user data keys in Redis, shared by every process of a deployment.

The hash ``<prefix>:datakeys`` maps each user id to its *wrapped* data key (JSON; useless
without the master key, see :mod:`memcore.security.keyring`). Adding is ``HSETNX``, so
two processes creating a user's key at once agree on one; re-wrapping is a
compare-and-set script; erasing (crypto-shredding) is ``HDEL``. Keep this hash out of
backups that sit beside the data, or shredding loses its meaning.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from memcore.security.keyring import WrappedKey
from memcore.settings import MemcoreSettings
from memcore_redis.client import new_client
from memcore_redis.errors import map_redis_errors
from memcore_redis.settings import redis_settings

__all__ = ["RedisDataKeyStore"]

# KEYS: the hash. ARGV: user id, the stored JSON expected, the new JSON.
_REPLACE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
"""


def _dump(key: WrappedKey) -> str:
    return json.dumps(key.to_json(), sort_keys=True)


class RedisDataKeyStore:
    """A :class:`~memcore.security.keyring.DataKeyStore` in ``<prefix>:datakeys``.

    It owns ``client`` and closes it in :meth:`aclose`.
    """

    def __init__(self, client: Redis, *, key_prefix: str = "memcore") -> None:
        self._client = client
        self.hash = f"{key_prefix}:datakeys"
        self._replace: Any = client.register_script(_REPLACE)

    @classmethod
    def from_settings(cls, settings: MemcoreSettings) -> RedisDataKeyStore:
        """Build from the ``redis`` section of ``settings``, with a client (and pool) of its own."""
        redis = redis_settings(settings)
        return cls(new_client(redis), key_prefix=redis.key_prefix)

    async def load(self, user_id: str) -> WrappedKey | None:
        with map_redis_errors("data_key", user_id):
            raw = await self._client.hget(self.hash, user_id)
        return None if raw is None else WrappedKey.from_json(json.loads(raw))

    async def add(self, user_id: str, key: WrappedKey) -> WrappedKey:
        while True:  # another process may erase the key between our two commands
            with map_redis_errors("data_key", user_id):
                if await self._client.hsetnx(self.hash, user_id, _dump(key)):
                    return key
            kept = await self.load(user_id)
            if kept is not None:
                return kept

    async def replace(self, user_id: str, old: WrappedKey, new: WrappedKey) -> bool:
        with map_redis_errors("data_key", user_id):
            swapped = await self._replace(keys=[self.hash], args=[user_id, _dump(old), _dump(new)])
        return bool(swapped)

    async def erase(self, user_id: str) -> bool:
        with map_redis_errors("data_key", user_id):
            return bool(await self._client.hdel(self.hash, user_id))

    async def aclose(self) -> None:
        await self._client.aclose()
