"""Noticing a Redis server that lost, or may lose, data it acknowledged.

At ``ensure_schema`` the store writes an *epoch key* ``<prefix>:epoch`` (on a cluster
node, with the node's hash tag after it; a random token,
``SET NX``, so every process of a deployment shares it) and remembers it with the
server's ``run_id``. Every new connection (start-up, reconnect after a restart or a
failover) reads ``run_id`` again; when it changed, the server restarted, and the epoch
key must still be there with the same token. Either way the store's recent writes are
sent again first (:mod:`memcore_redis.redo`): a server may lose the last seconds it
acknowledged and keep the rest. If the epoch key is gone, the server came back without
the data it had acknowledged (no persistence, a lost disk, a replica promoted before it
synced): unless this store created that epoch and its redo log still holds every write
it made, every call then raises :class:`~memcore.errors.DataLossError` instead of
carrying on as if nothing happened. An epoch key missing while the schema key is
present at start-up means keys were evicted or deleted underneath: the same. So does an
epoch key gone under a running store with the server still up (``FLUSHALL``,
``FLUSHDB``): a call that finds the index missing asks :meth:`DurabilityGuard.confirm`.

With a state directory (:mod:`memcore.state`), the store also remembers the epoch it
last saw in a file there, and a start that finds another epoch (the whole dataset was
wiped and a new one begun, by this process or another) is data loss too. If the wipe was
intended, delete the file the error names.

Data loss is logged at ERROR once and counted (``memcore_errors_total`` with
``error_type="DataLossError"``) for each call it stops.

At start-up it also warns (logger ``memcore_redis``) when the server has no persistence
(``appendonly no`` and no ``save`` points) or an evicting ``maxmemory-policy``: once per
process and server, however many stores a process opens on it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path
from typing import Any

from redis import exceptions as rex
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

from memcore.errors import DataLossError
from memcore_redis.commands import call
from memcore_redis.errors import BACKEND, map_redis_errors
from memcore_redis.redo import RedoLog

__all__ = ["DurabilityGuard"]

logger = logging.getLogger("memcore_redis")

_EVICTING = ("allkeys-", "volatile-")
_WARNED: set[str] = set()  # run ids of the servers whose setup this process warned about


class DurabilityGuard:
    """One store's watch on its server; :meth:`on_connect` runs on each new connection."""

    def __init__(
        self,
        key_prefix: str,
        redo: RedoLog,
        key_suffix: str = "",
        *,
        remembered: Path | None = None,
    ) -> None:
        self.epoch_key = f"{key_prefix}:epoch{key_suffix}"
        self.remembered = remembered  # the file holding the epoch last seen, if any
        self.meta_key = f"{key_prefix}:meta{key_suffix}"
        self.redo = redo
        self.run_id: str | None = None
        self.epoch: str | None = None
        self.created_epoch = False
        self.lost = False
        self._checking = asyncio.Lock()  # one connection checks (and redoes) at a time

    async def start(self, client: Redis) -> None:
        """Settle the epoch (before the schema key is written) and check the server's setup."""
        with map_redis_errors("ensure_schema"):
            had_schema = bool(await client.exists(self.meta_key))
            created = await client.set(self.epoch_key, secrets.token_hex(16), nx=True)
            epoch = await client.get(self.epoch_key)
            info = await client.info("server")
        self.epoch = epoch.decode() if isinstance(epoch, bytes) else epoch
        self.run_id = str(info["run_id"])
        if created and had_schema:
            self._lose("the epoch key was missing while the schema key was there")
        self._remember()
        self.created_epoch = bool(created)
        self.redo.add([("SET", self.epoch_key, self.epoch, "NX")])
        await self._warn_about_setup(client)

    def check(self) -> None:
        """Raise :class:`DataLossError` if data loss was detected: every call stops."""
        if self.lost:
            self._lose("data loss detected earlier", log=False)

    async def confirm(self, client: Redis, operation: str) -> None:
        """Raise :class:`DataLossError` unless the epoch key is still there, unchanged
        (asked when the index went missing under a running store).
        """
        with map_redis_errors(operation):
            epoch = await client.get(self.epoch_key)
        if (epoch.decode() if isinstance(epoch, bytes) else epoch) != self.epoch:
            self._lose("the epoch key is gone with the index (FLUSHALL, FLUSHDB or a delete)")

    def _remember(self) -> None:
        """Compare the epoch with the one last seen here, then remember this one."""
        if self.remembered is None or self.epoch is None:
            return
        try:
            seen = self.remembered.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            seen = self.epoch
        if seen != self.epoch:
            self._lose(
                f"its dataset was replaced since this machine last saw it (epoch {seen}, "
                f"now {self.epoch}); if that was intended, delete {self.remembered}"
            )
        self.remembered.parent.mkdir(parents=True, exist_ok=True)
        partial = self.remembered.with_suffix(".tmp")
        partial.write_text(self.epoch, encoding="utf-8")
        partial.replace(self.remembered)

    async def on_connect(self, connection: AbstractConnection) -> None:
        """``redis_connect_func`` of the pool's connections: handshake, then check."""
        await connection.on_connect()
        self.check()
        if self.run_id is None:
            return  # not started yet: nothing to compare with
        async with self._checking:  # no command of this store runs before the redo
            await self._check(connection)

    async def _check(self, connection: AbstractConnection) -> None:
        await connection.send_command("INFO", "server")
        run_id = _field(await connection.read_response(), "run_id")
        if run_id == self.run_id:
            return
        await connection.send_command("GET", self.epoch_key)
        epoch = await connection.read_response()
        kept = (epoch.decode() if isinstance(epoch, bytes) else epoch) == self.epoch
        if not kept and not (self.created_epoch and self.redo.covers_all):
            await connection.disconnect()
            self._lose(f"the server restarted (run id {run_id}) without the epoch key")
        try:
            redone = await self.redo.replay(connection)
        except BaseException:
            await connection.disconnect()
            raise
        logger.warning(
            "Redis server restarted (%s); the last %d acknowledged writes were sent again",
            "epoch key kept" if kept else "epoch key lost, every write was in the redo log",
            redone,
            extra={"run_id": run_id},
        )
        self.run_id = run_id

    def _lose(self, why: str, *, log: bool = True) -> None:
        self.lost = True
        error = DataLossError(
            f"the Redis server lost data it had acknowledged: {why}; stop writing, restore "
            "from a backup or re-import, then restart (see docs/reliability.md)",
            operation="connect",
            backend=BACKEND,
        )
        if log:
            logger.error("%s", error.message, extra={"epoch_key": self.epoch_key})
        raise error

    async def _warn_about_setup(self, client: Redis) -> None:
        if self.run_id in _WARNED:
            return
        _WARNED.add(str(self.run_id))
        with map_redis_errors("ensure_schema"):
            try:
                reply = await call(
                    client, "CONFIG", "GET", "appendonly", "save", "maxmemory-policy"
                )
            except rex.ResponseError:
                return  # CONFIG is disabled (managed Redis): nothing to tell
        settings = _pairs(reply)
        if settings.get("appendonly") == "no" and not settings.get("save"):
            logger.warning(
                "the Redis server has no persistence (appendonly no, no save points): a "
                "restart loses every memory; see docs/reliability.md"
            )
        policy = settings.get("maxmemory-policy", "")
        if policy.startswith(_EVICTING):
            logger.warning(
                "the Redis server evicts keys (maxmemory-policy %s): memories may vanish "
                "silently; use noeviction",
                policy,
            )


def _pairs(flat: list[Any]) -> dict[str, str]:
    text = [item.decode() if isinstance(item, bytes) else str(item) for item in flat]
    return dict(zip(text[::2], text[1::2], strict=True))


def _field(info: Any, name: str) -> str | None:
    if isinstance(info, dict):
        value = info.get(name)
        return None if value is None else str(value)
    text = info.decode() if isinstance(info, bytes) else str(info)
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.strip()
    return None
