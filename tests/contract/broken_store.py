"""A store with four deliberate defects, to prove the contract suite can fail."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from memcore.adapters.memory import InMemoryStore
from memcore.domain import MemoryRecord, RecordUpdate, SearchFilter, SearchHit, apply_update
from memcore.ports import Vectors


class BrokenStore(InMemoryStore):
    """Post-filters search results, forgets users by prefix, trusts record user ids,
    updates by reading and writing back (losing concurrent updates).
    """

    async def search(
        self, user_id: str, vector: Vectors, k: int, filters: SearchFilter
    ) -> list[SearchHit[MemoryRecord]]:
        hits = await super().search(user_id, vector, k, SearchFilter())
        return [hit for hit in hits if filters.matches(hit.record)]

    async def forget_user(self, user_id: str) -> int:
        doomed = [user for user in self._shards if user.startswith(user_id)]
        counts = [await super(BrokenStore, self).forget_user(user) for user in doomed]
        return sum(counts)

    async def upsert(self, user_id: str, records: Sequence[MemoryRecord], vectors: Vectors) -> None:
        for record, row in zip(records, vectors, strict=True):
            await super().upsert(record.user_id, [record], row.reshape(1, -1))

    async def update(
        self, user_id: str, update: RecordUpdate, vector: Vectors | None
    ) -> MemoryRecord | None:
        found, vectors = await self.get_with_vectors(user_id, [update.id])
        await asyncio.sleep(0)
        if not found:
            return None
        updated = apply_update(found[0], update)
        await super().upsert(
            user_id, [updated], vectors if vector is None else vector.reshape(1, -1)
        )
        return updated
