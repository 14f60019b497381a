"""Store a record only if its key holds none, in one atomic script.

The first write of a merged duplicate (:attr:`~memcore.domain.RecordUpdate.create`):
many identical writes at once derive one id from their content, so exactly one of them
may create the record; each other one finds it there and counts a sighting with the
update script (:mod:`memcore_redis.update`). The script runs the layout's whole-record
write commands (given as ``count, command, args...`` groups) only if the key is absent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from memcore_redis.commands import call
from memcore_redis.layout import Command

__all__ = ["create_if_absent"]

SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local i = 1
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
return 1
"""
_SHA = hashlib.sha1(SCRIPT.encode(), usedforsecurity=False).hexdigest()


async def create_if_absent(client: Redis, key: str, writes: Sequence[Command]) -> bool:
    """Run ``writes`` (each touching only ``key``) if ``key`` holds nothing; whether it did."""
    groups = [item for write in writes for item in (len(write), *write)]
    try:
        created = await call(client, "EVALSHA", _SHA, 1, key, *groups)
    except NoScriptError:
        created = await call(client, "EVAL", SCRIPT, 1, key, *groups)
    return bool(int(created))
