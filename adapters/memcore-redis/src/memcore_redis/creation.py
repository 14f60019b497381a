"""Store a record only if its key holds none, in one atomic script.

The first write of a merged duplicate (:attr:`~memcore.domain.RecordUpdate.create`):
many identical writes at once derive one id from their content, so exactly one of them
may create the record; each other one finds it there and counts a sighting with the
update script (:mod:`memcore_redis.update`). The script runs the layout's whole-record
write commands (given as ``count, command, args...`` groups) only if the key is absent.
It is sent like an upsert, index check included (``RedisStore._write``): a created
record the index cannot hold is removed again and reported, never left unsearchable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memcore_redis.layout import Command

__all__ = ["create_command", "created"]

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


def create_command(key: str, writes: Sequence[Command]) -> Command:
    """The ``EVAL`` running ``writes`` (each touching only ``key``) if ``key`` holds
    nothing (the script's text each time: short, and never missing after a restart).
    """
    groups = [item for write in writes for item in (len(write), *write)]
    return ("EVAL", SCRIPT, 1, key, *groups)


def created(reply: Any) -> bool:
    """Whether the reply to :func:`create_command` says it created the record."""
    return int(reply) == 1
