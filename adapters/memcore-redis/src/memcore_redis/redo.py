"""Re-applying the writes a restarted server may have lost though it acknowledged them.

Redis replies to a write before its AOF is on disk. With ``appendfsync everysec`` a
killed server keeps what it had written to the file, but when an fsync is slow (a busy
disk) Redis postpones writing the file by up to 2 s, and a SIGKILL, a crash or a
failover to a lagging replica in that time loses writes it acknowledged.

So each store keeps the commands of the writes acknowledged in the last
``redo_window`` seconds of its activity (the window is measured back from its latest
write, so an idle store keeps its last ones). When the durability guard finds the
server restarted, it sends them again, in order, on the first new connection, before
any other command of that store. Every logged command is idempotent: whole-record
``HSET`` / ``JSON.SET``, ``DEL``, ``SET NX``, ``FT.CREATE`` (``already exists`` is fine).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError

from memcore_redis.commands import read_reply
from memcore_redis.layout import Command

__all__ = ["RedoLog"]

logger = logging.getLogger("memcore_redis")

# Error replies that say "not now": the replay is tried again on the next connection.
_TRANSIENT = (OutOfMemoryError, ReadOnlyError)


class RedoLog:
    """The last ``window`` seconds of one store's acknowledged writes, at most ``capacity``
    commands; ``window`` 0 keeps nothing.
    """

    def __init__(self, window: float, capacity: int) -> None:
        self.window = window
        self.capacity = capacity
        self._entries: deque[tuple[float, tuple[Command, ...]]] = deque()
        self._commands = 0
        self._pruned = window <= 0  # nothing kept: it cannot cover a store's whole life
        self._overflowed = False

    def add(self, commands: Sequence[Command]) -> None:
        """Log one acknowledged write (several commands: one all-or-nothing batch)."""
        if self.window <= 0:
            return
        now = time.monotonic()
        entries = self._entries
        entries.append((now, tuple(commands)))
        self._commands += len(commands)
        horizon = now - self.window
        while entries and (entries[0][0] < horizon or self._commands > self.capacity):
            stamp, dropped = entries.popleft()
            self._commands -= len(dropped)
            self._pruned = True
            if stamp >= horizon and not self._overflowed:
                self._overflowed = True
                logger.warning(
                    "redo log full: more than %d writes in %.1f s, so a server restart now "
                    "could lose some acknowledged writes; raise MEMCORE_REDIS_REDO_MAX_WRITES",
                    self.capacity,
                    self.window,
                )

    @property
    def covers_all(self) -> bool:
        """True while nothing was ever dropped: the log holds every write of the store."""
        return not self._pruned

    def __len__(self) -> int:
        return self._commands

    async def replay(self, connection: AbstractConnection) -> int:
        """Send every logged write again on ``connection``, in order; return how many
        commands were sent. A transient error reply raises a connection error (the next
        connection replays again); any other is logged and skipped.
        """
        entries = [commands for _, commands in self._entries]
        if not entries:
            return 0
        await connection.send_packed_command(b"".join(_packed(commands) for commands in entries))
        # Every reply is read before any is judged, so the connection stays in step.
        results = []
        for commands in entries:
            replies = [await read_reply(connection) for _ in range(_replies(commands))]
            results.append(replies[-1])  # a batch's EXEC: the list of its commands' replies
        for commands, result in zip(entries, results, strict=True):
            for reply in result if isinstance(result, list) else [result]:
                _check(reply, commands)
        return self._commands


def _packed(commands: tuple[Command, ...]) -> bytes:
    """One entry as bytes: a batch inside MULTI/EXEC, a single command alone."""
    parts = commands if len(commands) == 1 else [("MULTI",), *commands, ("EXEC",)]
    return b"".join([hiredis.pack_command(tuple(command)) for command in parts])


def _replies(commands: tuple[Command, ...]) -> int:
    """How many replies an entry gets: MULTI's, one QUEUED per command and EXEC's."""
    return 1 if len(commands) == 1 else len(commands) + 2


def _check(reply: Any, commands: tuple[Command, ...]) -> None:
    """Raise on a transient error reply (the redo is tried again); log any other error."""
    if isinstance(reply, _TRANSIENT):
        msg = f"the server refused the redo of acknowledged writes: {reply}"
        raise RedisConnectionError(msg)
    if isinstance(reply, ResponseError) and "already exists" not in str(reply):
        logger.error("redo of an acknowledged write failed: %s (%s)", reply, commands[0][0])
