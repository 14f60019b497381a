"""The store contract for scopes within a user: ``agent_id`` and ``session_id``.

They are indexed fields like ``task``, so every store filters on them as it filters on
any tag; these tests hold them to the isolation the user id has.
"""

from __future__ import annotations

from dataclasses import replace

from memcore.domain import MemoryRecord, SearchFilter
from memcore.ports import MemoryStore, UnitVectors
from memcore.testing._suite import StoreFixtures, intervention, reflection, unit_vectors
from memcore.testing.store_isolation import HOSTILE_USER_IDS


class ScopeContract(StoreFixtures):
    """No agent or session of a user sees, counts or lists another's records."""

    async def test_hostile_scope_ids_never_meet(self, ready: MemoryStore) -> None:
        """Troubleshooting: a scope id is data like a user id: escape or encode it in every
        query. Each record here has the same vector, so only the scope keeps them apart.
        """
        vector = unit_vectors(1, seed=70)
        records: list[MemoryRecord] = [
            replace(intervention("u", n), agent_id=scope, session_id=scope)
            for n, scope in enumerate(HOSTILE_USER_IDS)
        ]
        await ready.upsert("u", records, UnitVectors(vector.repeat(len(records), axis=0)))
        for record in records:
            for name in ("agent_id", "session_id"):
                scoped = SearchFilter(**{name: getattr(record, name)})
                hits = await ready.search("u", UnitVectors(vector[0]), 5, scoped)
                assert [hit.record for hit in hits] == [record], (name, record.agent_id)
                assert (await ready.list("u", scoped, 5)).items == (record,)
                assert await ready.count("u", scoped) == 1

    async def test_scopes_round_trip_and_combine(self, ready: MemoryStore) -> None:
        """Troubleshooting: store both scope fields of both kinds; filters on both are AND."""
        records: list[MemoryRecord] = [
            replace(intervention("u", 1), agent_id="coach", session_id="s1"),
            replace(intervention("u", 2), agent_id="coach", session_id="s2"),
            replace(reflection("u", 3), agent_id="planner", session_id="s1"),
        ]
        await ready.upsert("u", records, unit_vectors(3, seed=71))
        assert await ready.get("u", ["i1", "i2", "r3"]) == records
        both = SearchFilter(agent_id="coach", session_id="s1")
        assert [r.id for r in (await ready.list("u", both, 10)).items] == ["i1"]
        sessions = SearchFilter(session_ids=["s1", "s2"], agent_id="coach")
        assert await ready.count("u", sessions) == 2

    async def test_unscoped_records_match_no_scope(self, ready: MemoryStore) -> None:
        """Troubleshooting: a record written without a scope (or before scopes existed)
        reads back with ``None`` and is not part of any agent's or session's records.
        """
        await ready.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=72))
        (record,) = await ready.get("u", ["i1"])
        assert (record.agent_id, record.session_id) == (None, None)
        for scoped in (SearchFilter(agent_id="None"), SearchFilter(session_id="s1")):
            assert await ready.count("u", scoped) == 0
        assert await ready.count("u", SearchFilter()) == 1
