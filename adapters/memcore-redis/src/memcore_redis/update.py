"""An update of one stored record in one atomic round trip: a Lua script per layout.

The client turns the update's values into stored fields as a whole-record write would
(:func:`~memcore_redis.documents.hash_changes`, :func:`~.json_changes`); the script,
run by the server with nothing in between, then:

1. answers "missing" if the key holds no record, one of another kind than asked, or
   one outside the update's scope (its ``agent_id``/``session_id``);
2. with a guard, answers "conflict" unless the stored ``updated_at`` is the expected one;
3. appends the new outcome to ``outcome_history`` (unless its last entry is that very
   change: a re-sent update appends nothing) and keeps the last ``limit`` entries;
   counts one more ``seen`` if asked; moves the key's own expiry with ``expires_at``;
4. writes the fields in one command (one re-index), deletes the emptied ones, and
   returns the record's fields as the layout's read of it would (HASH: the fields read
   in step 1, the written ones replaced, so the key is read once).

So concurrent updates of one record are applied one after the other and none is lost,
and an update never creates a record (one with ``create`` may, see
:mod:`memcore_redis.creation`). Scripts run by SHA, loaded again after a restart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from memcore.domain import MemoryRecord, RecordUpdate
from memcore.errors import ConflictError
from memcore.ports import UnitVectors
from memcore_redis.commands import round_trip
from memcore_redis.creation import create_command, created
from memcore_redis.documents import hash_changes, json_changes, record_from_fields
from memcore_redis.encoding import VECTOR, record_key
from memcore_redis.errors import BACKEND, map_redis_errors
from memcore_redis.layout import Command, JsonLayout, Layout, VectorSpec
from memcore_redis.outcome import Written
from memcore_redis.redo import RedoLog

__all__ = ["Updater", "Updates"]

CONFLICT = -1

# ARGV: 1 kind ('' any), 2 guard ('1'), 3 expected updated_at ('' none), 4 history item
# (JSON, '' none), 5 history limit, 6 fields to set (count of items), 7 fields to delete,
# 8 seen again ('1'), 9 the key's new expiry in ms ('' unchanged, '-1' none), 10 scope
# fields (count of items: name, stored value), then the scope's, set and deleted items.
# READ (set per layout, in the script's text) names the fields returned.
_HISTORY = """
local function appended(raw)
  local history = raw and cjson.decode(raw) or {}
  local item = cjson.decode(ARGV[4])
  local last = history[#history]
  if not (last and last[1] == item[1] and last[2] == item[2]) then
    history[#history + 1] = item
  end
  while #history > tonumber(ARGV[5]) do table.remove(history, 1) end
  return cjson.encode(history)
end
local n_set, n_del = tonumber(ARGV[6]), tonumber(ARGV[7])
local first_set = 11 + tonumber(ARGV[10])
local first_del = first_set + n_set
local function expire(key)
  if ARGV[9] == '-1' then redis.call('PERSIST', key)
  elseif ARGV[9] ~= '' then redis.call('PEXPIREAT', key, ARGV[9]) end
end
"""

HASH_SCRIPT = (
    _HISTORY
    + """
local key = KEYS[1]
local now = redis.call('HMGET', key, unpack(READ))
local kind = now[AT.kind]
if not kind or (ARGV[1] ~= '' and kind ~= ARGV[1]) then return {0} end
for i = 11, first_set - 1, 2 do
  if now[AT[ARGV[i]]] ~= ARGV[i + 1] then return {0} end
end
if ARGV[2] == '1' and (now[AT.updated_at] or '') ~= ARGV[3] then return {-1} end
local args = {key}
for i = first_set, first_del - 1 do args[#args + 1] = ARGV[i] end
if ARGV[4] ~= '' then
  args[#args + 1] = 'outcome_history'
  args[#args + 1] = appended(now[AT.outcome_history] or nil)
end
if ARGV[8] == '1' then
  args[#args + 1] = 'seen'
  args[#args + 1] = tostring((tonumber(now[AT.seen]) or 1) + 1)
end
if n_del > 0 then redis.call('HDEL', key, unpack(ARGV, first_del, #ARGV)) end
redis.call('HSET', unpack(args))
expire(key)
for i = 2, #args - 1, 2 do
  if AT[args[i]] then now[AT[args[i]]] = args[i + 1] end
end
for i = first_del, #ARGV do
  if AT[ARGV[i]] then now[AT[ARGV[i]]] = false end
end
return {1, now}
"""
)

JSON_SCRIPT = (
    _HISTORY
    + """
local key = KEYS[1]
local raw = redis.call(
  'JSON.GET', key, '$.kind', '$.updated_at', '$.outcome_history', '$.seen', '$.agent_id',
  '$.session_id')
if not raw then return {0} end
local doc = cjson.decode(raw)
local kind = doc['$.kind'][1]
if kind == nil or (ARGV[1] ~= '' and kind ~= ARGV[1]) then return {0} end
for i = 11, first_set - 1, 2 do
  if doc['$.' .. ARGV[i]][1] ~= ARGV[i + 1] then return {0} end
end
if ARGV[2] == '1' then
  local current = doc['$.updated_at'][1]
  if (ARGV[3] == '' and current ~= nil) or (ARGV[3] ~= '' and current ~= tonumber(ARGV[3])) then
    return {-1}
  end
end
local args = {}
for i = first_set, first_del - 1, 2 do
  args[#args + 1] = key
  args[#args + 1] = ARGV[i]
  args[#args + 1] = ARGV[i + 1]
end
if ARGV[4] ~= '' then
  local history = doc['$.outcome_history'][1]
  args[#args + 1] = key
  args[#args + 1] = '$.outcome_history'
  args[#args + 1] = appended(history and cjson.encode(history) or nil)
end
if ARGV[8] == '1' then
  args[#args + 1] = key
  args[#args + 1] = '$.seen'
  args[#args + 1] = tostring((doc['$.seen'][1] or 1) + 1)
end
for i = first_del, #ARGV do redis.call('JSON.DEL', key, ARGV[i]) end
redis.call('JSON.MSET', unpack(args))
expire(key)
return {1, redis.call('JSON.GET', key, unpack(READ))}
"""
)


def _returned(read: Sequence[str]) -> str:
    """The script's READ (what it returns) and AT (each one's position), as Lua."""
    names = ", ".join(f"'{name}'" for name in read)
    positions = ", ".join(f"['{name}'] = {i}" for i, name in enumerate(read, 1))
    return f"local READ = {{{names}}}\nlocal AT = {{{positions}}}\n"


class Updater:
    """Runs updates of one layout's records (see the module docstring)."""

    def __init__(self, layout: Layout) -> None:
        self._json = isinstance(layout, JsonLayout)
        self._layout = layout
        self._script = _returned(layout.read("", vector=False)[2:]) + (
            JSON_SCRIPT if self._json else HASH_SCRIPT
        )
        self._sha = hashlib.sha1(self._script.encode(), usedforsecurity=False).hexdigest()

    def command(self, key: str, update: RecordUpdate, vector: NDArray[Any] | None) -> Command:
        """The ``EVAL`` of ``update`` on ``key`` (the script itself: what the redo log
        keeps); :meth:`run` sends it by SHA.
        """
        values = {**update.values, "updated_at": update.at} if update.stamp else update.values
        expiry: int | str = ""
        if "expires_at" in values:
            expires_at = values["expires_at"]
            expiry = -1 if expires_at is None else int(expires_at.timestamp() * 1000)
        if self._json:
            written, gone = json_changes(values)
            if vector is not None:
                written[VECTOR] = np.ascontiguousarray(vector, dtype=np.float32)
            items = [
                item
                for name, value in written.items()
                for item in (f"$.{name}", orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))
            ]
            deleted: Sequence[str] = [f"$.{name}" for name in gone]
        else:
            items, deleted = hash_changes(values)
            if vector is not None:
                items += [VECTOR, vector.tobytes()]
        scope: list[Any] = []  # the scope's fields as stored: text in both layouts
        if update.scope and self._json:
            scope = [item for pair in json_changes(update.scope)[0].items() for item in pair]
        elif update.scope:
            scope = hash_changes(update.scope)[0]
        outcome = update.values.get("outcome")
        history = "" if outcome is None else orjson.dumps([outcome.value, update.at.isoformat()])
        expected = "" if update.if_updated_at is None else repr(update.if_updated_at.timestamp())
        return (
            "EVAL", self._script, 1, key,
            "" if update.kind is None else update.kind.value, "1" if update.guard else "0",
            expected, history, update.history_limit, len(items), len(deleted),
            "1" if update.seen_again else "0", expiry, len(scope), *scope, *items, *deleted,
        )  # fmt: skip

    async def run(
        self,
        client: Redis,
        key: str,
        update: RecordUpdate,
        vector: NDArray[Any] | None,
        spec: VectorSpec,
    ) -> tuple[Command, dict[str, Any] | None]:
        """Apply ``update`` to ``key``: the command sent (see :meth:`command`) and the
        record's stored fields after it, ``None`` if it is missing. Raises
        :class:`~memcore.errors.ConflictError` when the guard finds it changed.
        """
        stored = None if vector is None else vector.astype(spec.dtype, copy=False)
        command = self.command(key, update, stored)
        try:  # the lean send of round_trip: a third of the update's client time
            (reply,) = await round_trip(client, [("EVALSHA", self._sha, *command[2:])])
        except NoScriptError:
            (reply,) = await round_trip(client, [command])
        if int(reply[0]) == CONFLICT:
            raise ConflictError(
                f"record {update.id!r} changed since it was read",
                operation="update",
                backend=BACKEND,
            )
        decoded = self._layout.decode(reply[1], spec) if int(reply[0]) == 1 else None
        return command, None if decoded is None else decoded[0]


class Updates:
    """:meth:`~memcore.ports.MemoryStore.update` of :class:`~memcore_redis.RedisStore`."""

    _client: Redis
    _prefix: str
    _redo: RedoLog
    _updater: Updater
    _layout: Layout
    _require: Callable[[str], VectorSpec]
    _write: Callable[[Written, Sequence[Command], VectorSpec], Awaitable[Any]]

    async def update(
        self, user_id: str, update: RecordUpdate, vector: UnitVectors | None
    ) -> MemoryRecord | None:
        spec = self._require("update")
        key = record_key(self._prefix, user_id, update.id)
        if update.create is not None and vector is not None:
            writes = self._layout.write(key, update.create, vector[0].astype(spec.dtype))
            written = Written("update", user_id, [update.id], [key], writes, created)
            if created(await self._write(written, [create_command(key, writes)], spec)):
                return update.create
            vector = None  # it exists: count the sighting, keep its embedding
        with map_redis_errors("update", user_id):
            command, fields = await self._updater.run(self._client, key, update, vector, spec)
        if fields is None:
            return None
        self._redo.add([command])
        return record_from_fields(user_id, update.id, fields)
