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


class ClusterNodeStore(RedisStore):
    """The store of one cluster primary whose own keys carry ``{hash_tag}``."""

    cluster_node: ClassVar[bool] = True

    def __init__(self, settings: RedisSettings, *, hash_tag: str) -> None:
        self.hash_tag = hash_tag
        super().__init__(settings)

    async def list(
        self, user_id: str, filters: SearchFilter, limit: int, cursor: str | None = None
    ) -> Page[MemoryRecord]:
        """The index orders keys by ``created_at`` (ties in no particular order); the
        records are read by key, and ordered and cut after the cursor by
        ``(created_at, id)`` here, reading on until the last tie is in.
        """
        self._require("list")
        query = filter_query(user_id, filters)
        after = (float("-inf"), "") if cursor is None else decode_cursor(cursor)
        lower = "-inf" if cursor is None else repr(after[0])
        batch, offset = limit + 1, 0
        # By id: a write landing meanwhile shifts the offsets, and a key may come twice.
        taken: dict[str, tuple[float, str, MemoryRecord]] = {}
        status = Status.COMPLETE
        while True:
            (reply,), answered = await self._query("list", user_id, [(
                "FT.SEARCH", self._index, f"{query} @created_at:[{lower} +inf]", "NOCONTENT",
                "SORTBY", "created_at", "ASC", "LIMIT", offset, batch, "DIALECT", 2,
            )])  # fmt: skip
            status = status if answered is Status.COMPLETE else answered
            start = len(self._user_prefix(user_id))
            ids = [text(key)[start:] for key in reply[1:]]
            records = await self._records(user_id, ids, "list")
            last = float("-inf")
            for record_id in ids:
                record = records.get(record_id)
                if record is not None:
                    last = record.created_at.timestamp()
                    if (last, record_id) > after:
                        taken[record_id] = (last, record_id, record)
            offset += batch
            ordered = sorted(taken.values(), key=lambda row: row[:2])
            if len(ids) < batch or (len(ordered) > limit and last > ordered[limit][0]):
                listed = page([record for *_, record in ordered], limit)
                return dataclasses.replace(listed, status=status)

    def _search_returned(self) -> builtins.list[str]:
        return []  # the records are read by key

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
