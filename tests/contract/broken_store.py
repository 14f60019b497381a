"""A store with three deliberate defects, to prove the contract suite can fail."""

from __future__ import annotations

from collections.abc import Sequence

from memcore.adapters.memory import InMemoryStore
from memcore.domain import MemoryRecord, SearchFilter, SearchHit
from memcore.ports import Vectors


class BrokenStore(InMemoryStore):
    """Post-filters search results, forgets users by prefix, trusts record user ids."""

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
