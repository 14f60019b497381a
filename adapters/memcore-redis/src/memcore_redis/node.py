"""ClusterNodeStore: the :class:`~memcore_redis.RedisStore` of one primary of a cluster.

:class:`~memcore_redis.RedisClusterStore` keeps one per primary. What differs from a
single server:

- the node's own keys (index, schema, epoch) carry a hash tag of a slot it owns;
- its search module reads no keys outside its index name's slot, so the index finds keys
  (``user_id`` and ``created_at`` SORTABLE, so it groups and sorts without reading them)
  and the store reads their records itself;
- an index answers for whatever keys the node holds, even after the user's slot moved
  away; so every query about a user goes after a read of a key in the user's slot, which
  a node that lost the slot answers ``MOVED``.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

from memcore.adapterkit import decode_cursor
from memcore.domain import MemoryRecord, Page, SearchFilter, SearchHit, Status
from memcore_redis.commands import round_trip
from memcore_redis.query import filter_query
from memcore_redis.replies import hit, page, text
from memcore_redis.settings import RedisSettings
from memcore_redis.store import RedisStore

__all__ = ["ClusterNodeStore"]

_TICK = 1e-6


class ClusterNodeStore(RedisStore):
    """The store of one cluster primary whose own keys carry ``{hash_tag}``."""

    cluster_node: ClassVar[bool] = True

    def __init__(self, settings: RedisSettings, *, hash_tag: str) -> None:
        self.hash_tag = hash_tag
        super().__init__(settings)

    async def list(
        self, user_id: str, filters: SearchFilter, limit: int, cursor: str | None = None
    ) -> Page[MemoryRecord]:
        """The index orders keys by ``created_at`` only, and ties come in an order that
        changes with the ``LIMIT`` asked, so no tie is ever paged by offset: each step
        reads the next ``limit + 1`` keys from a time on, then every key at the last of
        their times, and orders and cuts the records by ``(created_at, id)`` here.
        """
        self._require("list")
        query = filter_query(user_id, filters)
        after = (float("-inf"), "") if cursor is None else decode_cursor(cursor)
        # The index's created_at and a record's may differ in the last bit: a microsecond
        # (datetime's precision) either side of a time counts as that time.
        lower = "-inf" if cursor is None else repr(after[0] - _TICK)
        taken: dict[str, tuple[float, str, MemoryRecord]] = {}
        status, batch = Status.COMPLETE, limit + 1
        while True:
            ids, answered = await self._keys(
                user_id, f"{query} @created_at:[{lower} +inf]", batch, sort=True
            )
            status = status if answered is Status.COMPLETE else answered
            records = await self._records(user_id, ids, "list")
            times = [records[i].created_at.timestamp() for i in ids if i in records]
            if len(ids) == batch and not times:  # all gone (deleted, expired) since: more
                batch *= 2
                continue
            if len(ids) == batch:  # more may share the last time: read them all
                around = f"[{times[-1] - _TICK!r} {times[-1] + _TICK!r}]"
                ties, answered = await self._keys(
                    user_id, f"{query} @created_at:{around}", len(ids), sort=False
                )
                status = status if answered is Status.COMPLETE else answered
                records |= await self._records(user_id, ties, "list")
            for record in records.values():
                key = (record.created_at.timestamp(), record.id)
                if key > after:
                    taken[record.id] = (*key, record)
            if len(ids) < batch or len(taken) > limit:
                ordered = sorted(taken.values(), key=lambda row: row[:2])
                listed = page([record for *_, record in ordered], limit)
                return dataclasses.replace(listed, status=status)
            lower = f"({times[-1] + _TICK!r}"  # every record up to that time is in

    async def _keys(
        self, user_id: str, query: str, batch: int, *, sort: bool
    ) -> tuple[builtins.list[str], Status]:
        """The ids of the records ``query`` matches: the first ``batch`` by ``created_at``
        with ``sort``, else all of them (asked again with the count if ``batch`` was short).
        """
        order = ["SORTBY", "created_at", "ASC"] if sort else []
        while True:
            (reply,), status = await self._query("list", user_id, [(
                "FT.SEARCH", self._index, query, "NOCONTENT", *order,
                "LIMIT", 0, batch, "DIALECT", 2,
            )])  # fmt: skip
            if sort or int(reply[0]) <= batch:
                start = len(self._user_prefix(user_id))
                return [text(key)[start:] for key in reply[1:]], status
            batch = int(reply[0])

    def _search_returned(self, filters: SearchFilter) -> tuple[str, ...]:  # noqa: ARG002
        return ()  # the records are read by key

    async def _hits(
        self, user_id: str, found: Sequence[tuple[str, dict[bytes, Any]]]
    ) -> builtins.list[SearchHit[MemoryRecord]]:
        records = await self._records(user_id, [record_id for record_id, _ in found], "search")
        # A record deleted between the search and the read is left out.
        return [hit(records[i], fields) for i, fields in found if i in records]

    async def _ask(self, user_id: str, queries: Sequence[Sequence[Any]]) -> builtins.list[Any]:
        replies = await round_trip(self._client, [("EXISTS", self._user_prefix(user_id)), *queries])
        return replies[1:]

    async def _records(
        self, user_id: str, ids: Sequence[str], operation: str
    ) -> dict[str, MemoryRecord]:
        """The records of ``ids`` that exist, by id (one round trip)."""
        spec = self._require(operation)
        found = await self._read(user_id, ids, spec, vectors=False, operation=operation)
        return {record.id: record for record, _ in found}
