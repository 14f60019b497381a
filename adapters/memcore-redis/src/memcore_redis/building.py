"""Whether the index covers every record yet: reads say ``partial`` until it does.

RediSearch indexes the keys that exist when an index is created in the background (a
new deployment on old data, an index dropped underneath and recreated, a restart that
did not reload it); until ``FT.INFO`` says the scan is done (``indexing`` 0), a search
or a count sees only part of the records. :class:`IndexBuild` remembers whether it has
seen the index whole. Until it has, a read sends ``FT.INFO`` in front of its query, in
the same round trip, at most once per ``LOOK_EVERY`` seconds (``FT.INFO`` of a large
index costs milliseconds: sent with every search, it tripled a JSON search's time), and
the answer is ``partial`` unless the index was whole before the query ran.

Every memcore process that creates the index bumps a *generation key* beside it
(``<prefix>:index_generation``), and every read reads it too (one ``GET`` in the same
round trip): when another process recreated the index since this one saw it whole, the
answer is ``partial`` and the next read looks at ``FT.INFO`` again.

A call that finds the index missing asks :meth:`IndexBuild.recover`: data loss if the
dataset went with it (:mod:`memcore_redis.durability`), else the index is created again
and reads are ``partial`` until it is built. Until then, :meth:`IndexBuild.stragglers`
finds a user's keys the index may miss, so that forgetting a user misses none, and
:meth:`IndexBuild.users` the users (``partial``), so that exporting or clearing every
user misses none.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from memcore.domain import Status, UserIds
from memcore_redis.commands import call, round_trip
from memcore_redis.durability import DurabilityGuard
from memcore_redis.encoding import text_from_tag, user_key_prefix
from memcore_redis.errors import is_missing_index
from memcore_redis.layout import Command, VectorSpec
from memcore_redis.replies import text
from memcore_redis.schema import IndexInfo, SchemaKeeper

logger = logging.getLogger(__name__)

__all__ = ["IndexBuild"]

LOOK_EVERY = 0.5
"""Seconds between two ``FT.INFO`` of an index being built (reads in between: ``partial``)."""

Ask = Callable[[Sequence[Sequence[Any]]], Awaitable[list[Any]]]
"""Sends commands in one round trip and returns their replies (raising the first error)."""


class IndexBuild:
    """One store's view of its index: whole (every record indexed) or maybe not."""

    def __init__(
        self, index: str, keeper: SchemaKeeper, guard: DurabilityGuard, key_prefix: str
    ) -> None:
        self.index = index
        self.key_prefix = key_prefix
        self.generation_key = keeper.generation_key
        self.whole = False
        self._keeper = keeper
        self._guard = guard
        self._generation: bytes | None = None  # the generation last seen whole
        self._next_look = 0.0  # when a read may send FT.INFO again (time.monotonic)

    async def read(
        self,
        ask: Ask,
        queries: Sequence[Sequence[Any]],
        client: Redis,
        operation: str,
        vector: VectorSpec,
        *,
        again: bool = True,
    ) -> tuple[list[Any], Status]:
        """The replies to ``queries``, asked with the probe in front, and their status; an
        index found missing is recovered (:meth:`recover`) and asked once more.
        """
        probe = self.probe()
        try:
            replies = await ask([*probe, *queries])
        except ResponseError as exc:
            if not (again and is_missing_index(exc)):
                raise
            await self.recover(client, operation, vector)
            return await self.read(ask, queries, client, operation, vector, again=False)
        return replies[len(probe) :], self.status(replies[: len(probe)])

    async def stragglers(self, client: Redis, user_id: str) -> list[bytes]:
        """While the index is not known whole: every key of ``user_id`` (a SCAN, which
        walks the whole keyspace); else none. Key prefixes and tags hold no glob syntax.
        """
        if self.whole:
            return []
        match = f"{user_key_prefix(self.key_prefix, user_id)}*"
        return [key async for key in client.scan_iter(match=match, count=1_000)]

    async def users(self, client: Redis, vector: VectorSpec) -> UserIds:
        """Every user with records: the indexed ones and, while the index is not whole
        (``partial``), the user of every record key a SCAN of the keyspace finds.
        """
        aggregate = (
            "FT.AGGREGATE", self.index, "*", "GROUPBY", 1, "@user_id",
            "WITHCURSOR", "COUNT", 1_000, "DIALECT", 2,
        )  # fmt: skip
        ask = functools.partial(round_trip, client)
        (reply,), status = await self.read(ask, [aggregate], client, "user_ids", vector)
        users: set[str] = set()
        while True:
            rows, cursor = reply
            users.update(text_from_tag(text(group[1])) for group in rows[1:] if group[1])
            if not int(cursor):
                break
            reply = await call(client, "FT.CURSOR", "READ", self.index, cursor)
        if status is not Status.COMPLETE:
            users.update(await self._unindexed_users(client))
        return UserIds(sorted(users), status=status)

    async def _unindexed_users(self, client: Redis) -> set[str]:
        keys = client.scan_iter(match=f"{self.key_prefix}:{{*", count=1_000)
        return {text_from_tag(text(key).partition("{")[2].partition("}")[0]) async for key in keys}

    async def recover(self, client: Redis, operation: str, vector: VectorSpec) -> None:
        """The index is missing: raise :class:`~memcore.errors.DataLossError` if the epoch
        key went with it, else create the index again and watch it being built.
        """
        await self._guard.confirm(client, operation)
        self.whole, self._next_look = False, 0.0
        await self._keeper.recreate(vector)
        logger.warning("index %r was missing: created again, reads partial until built", self.index)

    def probe(self) -> list[Command]:
        """The commands to send in front of a read (their replies go to :meth:`status`)."""
        probe: list[Command] = [("GET", self.generation_key)]
        if self.whole or time.monotonic() < self._next_look:
            return probe
        return [*probe, ("FT.INFO", self.index)]

    def status(self, replies: Sequence[Any]) -> Status:
        """``complete`` when the index was whole before the read ran, else ``partial``."""
        generation, *info = replies
        if self.whole and generation == self._generation:
            return Status.COMPLETE
        if not info:  # recreated elsewhere since, or looked at a moment ago: not yet
            if self.whole:
                self.whole, self._next_look = False, 0.0  # look at FT.INFO next read
            return Status.PARTIAL
        self.whole = not IndexInfo.parse(info[0]).building
        self._generation = generation
        self._next_look = time.monotonic() + LOOK_EVERY
        return Status.COMPLETE if self.whole else Status.PARTIAL
