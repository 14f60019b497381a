"""The store contract for expiry: a record past its ``expires_at`` is gone for every read."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from memcore.domain import MemoryRecord, RecordKind, RecordUpdate, SearchFilter, utcnow
from memcore.ports import MemoryStore, UnitVectors
from memcore.testing._suite import StoreFixtures, intervention, reflection, unit_vectors

#: How long the records that expire during a test live.
LIFETIME = timedelta(seconds=2)


class ExpiryContract(StoreFixtures):
    """No read returns or counts an expired record; the others are untouched."""

    async def test_an_expired_record_is_never_returned_or_counted(self, ready: MemoryStore) -> None:
        """Troubleshooting: check ``expires_at`` on every read path (or let the backend
        expire the data natively and check the window before it does); records without
        it, or expiring later, stay.
        """
        soon = utcnow() + LIFETIME
        records: list[MemoryRecord] = [
            replace(intervention("u", 1), expires_at=soon),
            replace(reflection("u", 2), expires_at=soon),
            intervention("u", 3),
            replace(intervention("u", 4), expires_at=soon + timedelta(days=1)),
        ]
        vectors = unit_vectors(4, seed=80)
        await ready.upsert("u", records, vectors)
        assert await ready.count("u", SearchFilter()) == 4
        assert await ready.get("u", ["i1"]) == [records[0]]
        await asyncio.sleep((soon - utcnow()).total_seconds() + 0.05)
        alive = {"i3", "i4"}
        assert {r.id for r in await ready.get("u", ["i1", "r2", "i3", "i4"])} == alive
        found, _ = await ready.get_with_vectors("u", ["i1", "r2", "i3", "i4"])
        assert {r.id for r in found} == alive
        hits = await ready.search("u", UnitVectors(vectors[0]), 10, SearchFilter())
        assert {hit.record.id for hit in hits} == alive
        assert {r.id for r in (await ready.list("u", SearchFilter(), 10)).items} == alive
        assert await ready.count("u", SearchFilter()) == 2
        change = RecordUpdate("i1", RecordKind.INTERVENTION, {}, utcnow(), 10)
        assert await ready.update("u", change, None) is None

    async def test_rewriting_a_record_without_expires_at_keeps_it(self, ready: MemoryStore) -> None:
        """Troubleshooting: a record written again without ``expires_at`` must lose the
        old expiry (clear the backend's own key expiry too).
        """
        soon = utcnow() + LIFETIME
        record = replace(intervention("u", 1), expires_at=soon)
        vector = unit_vectors(1, seed=81)
        await ready.upsert("u", [record], vector)
        await ready.upsert("u", [replace(record, expires_at=None)], vector)
        await asyncio.sleep((soon - utcnow()).total_seconds() + 0.05)
        assert [r.id for r in await ready.get("u", ["i1"])] == ["i1"]
        assert await ready.count("u", SearchFilter()) == 1

    async def test_an_update_moves_the_expiry(self, ready: MemoryStore) -> None:
        """Troubleshooting: an update that sets ``expires_at`` moves the backend's own key
        expiry too; without ``stamp`` it leaves ``updated_at`` as it was.
        """
        soon = utcnow() + LIFETIME
        await ready.upsert(
            "u", [replace(intervention("u", 1), expires_at=soon)], unit_vectors(1, 82)
        )
        later = soon + timedelta(days=1)
        refresh = RecordUpdate("i1", None, {"expires_at": later}, utcnow(), 10, stamp=False)
        refreshed = await ready.update("u", refresh, None)
        assert refreshed is not None
        assert (refreshed.expires_at, refreshed.updated_at) == (later, None)
        await asyncio.sleep((soon - utcnow()).total_seconds() + 0.05)
        assert await ready.get("u", ["i1"]) == [refreshed]
