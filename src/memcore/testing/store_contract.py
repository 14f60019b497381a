"""The store contract: one test per promise in :class:`memcore.ports.MemoryStore`.

Subclass :class:`StoreContract` and provide one fixture, ``store``, that yields a new,
empty store on which ``ensure_schema`` has not been called, and closes it afterwards::

    class TestMyStore(StoreContract):
        @pytest.fixture
        async def store(self):
            store = MyStore(...)
            yield store
            await store.aclose()
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta, timezone
from typing import ClassVar

import numpy as np
import pytest

from memcore.domain import (
    MemoryRecord,
    Outcome,
    RecordKind,
    SearchFilter,
)
from memcore.errors import ValidationError
from memcore.ports import MemoryStore, UnitVectors
from memcore.testing._suite import (
    SCHEMA,
    T0,
    StoreFixtures,
    intervention,
    reflection,
    unit_vectors,
)
from memcore.testing.service_calls import ServiceCallsContract
from memcore.testing.store_expiry import ExpiryContract
from memcore.testing.store_isolation import AdminContract, IsolationContract, LifecycleContract
from memcore.testing.store_listing import ListingContract
from memcore.testing.store_scopes import ScopeContract
from memcore.testing.store_update import UpdateContract


async def _ids(store: MemoryStore, user_id: str, filters: SearchFilter | None = None) -> set[str]:
    page = await store.list(user_id, filters or SearchFilter(), 1000)
    return {record.id for record in page.items}


class RoundTripContract(StoreFixtures):
    """upsert / get: what goes in comes out, whole and unchanged."""

    async def test_get_returns_what_upsert_stored(self, ready: MemoryStore) -> None:
        """Troubleshooting: every field must survive the backend's encoding, including
        timezone-aware ``created_at``, unicode/newlines/quotes in texts, ``source_ids``, and
        metadata value *types* (``True`` stays bool, ``2`` stays int, ``0.8`` stays float).
        """
        records: list[MemoryRecord] = [
            intervention("u", 1, metadata={"lang": "en", "attempt": 2, "voice": True, "pace": 1.5}),
            reflection("u", 2),
        ]
        await ready.upsert("u", records, unit_vectors(2, seed=1))
        assert await ready.get("u", ["i1", "r2"]) == records

    async def test_created_at_survives_to_the_microsecond_with_its_offset(
        self, ready: MemoryStore
    ) -> None:
        """Troubleshooting: a backend that keeps time as float seconds must still give back
        the exact microsecond and the original UTC offset, from get, search and list alike.
        """
        ist = timezone(timedelta(hours=5, minutes=30))
        records: list[MemoryRecord] = [
            intervention("u", 1, minutes=0),
            replace(intervention("u", 2), created_at=T0 + timedelta(microseconds=123_457)),
            replace(intervention("u", 3), created_at=(T0 + timedelta(days=1)).astimezone(ist)),
            replace(reflection("u", 4), created_at=T0.replace(year=2199, microsecond=999_999)),
        ]
        vectors = unit_vectors(4, seed=11)
        await ready.upsert("u", records, UnitVectors(vectors))
        ids = [record.id for record in records]
        for got in (
            await ready.get("u", ids),
            (await ready.list("u", SearchFilter(), 10)).items,
            [
                hit.record
                for hit in await ready.search("u", UnitVectors(vectors[0]), 4, SearchFilter())
            ],
        ):
            by_id = {record.id: record for record in got}
            for record in records:
                assert by_id[record.id] == record
                assert by_id[record.id].created_at.utcoffset() == record.created_at.utcoffset()

    async def test_get_keeps_the_order_of_ids_and_leaves_out_missing(
        self, ready: MemoryStore
    ) -> None:
        """Troubleshooting: keep the order asked; unknown ids are skipped, not errors."""
        records = [intervention("u", n) for n in range(3)]
        await ready.upsert("u", records, unit_vectors(3, seed=2))
        got = await ready.get("u", ["i2", "missing", "i0"])
        assert [r.id for r in got] == ["i2", "i0"]
        assert await ready.get("u", []) == []
        assert await ready.get("nobody", ["i0"]) == []

    async def test_upsert_is_idempotent_by_id(self, ready: MemoryStore) -> None:
        """Troubleshooting: a second write of the same id must replace, never add."""
        record = intervention("u", 1)
        vectors = unit_vectors(1, seed=3)
        await ready.upsert("u", [record], UnitVectors(vectors))
        await ready.upsert("u", [record], UnitVectors(vectors))
        assert await ready.count("u", SearchFilter()) == 1
        assert len(await ready.search("u", UnitVectors(vectors[0]), 10, SearchFilter())) == 1

    async def test_upsert_replaces_the_whole_record(self, ready: MemoryStore) -> None:
        """Troubleshooting: fields and metadata keys absent from the new version must be gone,
        and filters must see the new values (re-index on overwrite).
        """
        first = intervention("u", 1, outcome=Outcome.NO_RESPONSE, metadata={"old": "x"})
        second = replace(first, outcome=Outcome.TASK_COMPLETED, metadata={"new": 1})
        await ready.upsert("u", [first], unit_vectors(1, seed=4))
        await ready.upsert("u", [second], unit_vectors(1, seed=5))
        assert await ready.get("u", ["i1"]) == [second]
        done = SearchFilter(outcomes=frozenset({Outcome.TASK_COMPLETED}))
        assert await ready.count("u", done) == 1
        assert await ready.count("u", SearchFilter(metadata={"old": "x"})) == 0

    async def test_upsert_does_not_mutate_or_keep_its_inputs(self, ready: MemoryStore) -> None:
        """Troubleshooting: copy the vectors: converting in place corrupts the caller's data,
        and a kept reference lets the caller change what is stored.
        """
        records = [intervention("u", n) for n in range(2)]
        vectors = unit_vectors(2, seed=6)
        snapshot, records_before = vectors.copy(), list(records)
        await ready.upsert("u", records, UnitVectors(vectors))
        assert np.array_equal(vectors, snapshot)
        assert records == records_before
        vectors[:] = -vectors  # the store must not see this
        hits = await ready.search("u", UnitVectors(snapshot[0]), 1, SearchFilter())
        assert hits[0].record.id == "i0"
        assert hits[0].score == pytest.approx(1.0, abs=1e-3)

    async def test_upsert_rejects_a_record_of_another_user(self, ready: MemoryStore) -> None:
        """Troubleshooting: check ``record.user_id == user_id`` for every record before writing."""
        with pytest.raises(ValidationError):
            await ready.upsert(
                "u", [intervention("u", 1), intervention("v", 2)], unit_vectors(2, seed=7)
            )
        assert await ready.count("u", SearchFilter()) == 0
        assert await ready.count("v", SearchFilter()) == 0

    async def test_a_write_is_visible_to_the_next_read(self, ready: MemoryStore) -> None:
        """Troubleshooting: read-your-writes; an asynchronously indexing backend must wait."""
        vectors = unit_vectors(5, seed=8)
        for n in range(5):
            await ready.upsert("u", [intervention("u", n)], UnitVectors(vectors[n : n + 1]))
            hits = await ready.search("u", UnitVectors(vectors[n]), 1, SearchFilter())
            assert hits[0].record.id == f"i{n}"
            assert await ready.count("u", SearchFilter()) == n + 1


class SearchContract(StoreFixtures):
    """search: at most k, best first, cosine scores, filters before ranking."""

    async def test_search_returns_at_most_k_best_first(self, ready: MemoryStore) -> None:
        """Troubleshooting: sort by similarity descending and cut at k."""
        vectors = unit_vectors(30, seed=10)
        await ready.upsert("u", [intervention("u", n) for n in range(30)], UnitVectors(vectors))
        for k in (1, 5, 30, 50):
            hits = await ready.search("u", UnitVectors(vectors[3]), k, SearchFilter())
            assert len(hits) == min(k, 30)
            scores = [hit.score for hit in hits]
            assert scores == sorted(scores, reverse=True)
            assert hits[0].record.id == "i3"

    async def test_scores_are_cosine_similarities(self, ready: MemoryStore) -> None:
        """Troubleshooting: report ``1 - cosine_distance``: same direction 1, orthogonal 0,
        opposite -1.
        """
        basis = np.eye(SCHEMA.dimension, dtype=np.float32)
        vectors = np.stack([basis[0], basis[1], -basis[0]])
        await ready.upsert("u", [intervention("u", n) for n in range(3)], UnitVectors(vectors))
        hits = await ready.search("u", UnitVectors(basis[0]), 3, SearchFilter())
        scores = {hit.record.id: hit.score for hit in hits}
        assert scores["i0"] == pytest.approx(1.0, abs=1e-3)
        assert scores["i1"] == pytest.approx(0.0, abs=1e-3)
        assert scores["i2"] == pytest.approx(-1.0, abs=1e-3)

    async def test_search_finds_the_nearest_records(self, ready: MemoryStore) -> None:
        """Troubleshooting: approximate indexes must still find >= 90% of the exact top 5
        on small data; raise the search breadth (e.g. HNSW EF_RUNTIME) if not.
        """
        vectors = unit_vectors(200, seed=11)
        await ready.upsert("u", [intervention("u", n) for n in range(200)], UnitVectors(vectors))
        queries = unit_vectors(20, seed=12)
        found = 0
        for query in queries:
            exact = {f"i{n}" for n in np.argsort(-(vectors @ query))[:5]}
            hits = await ready.search("u", UnitVectors(query), 5, SearchFilter())
            found += len(exact & {hit.record.id for hit in hits})
        assert found / (5 * len(queries)) >= 0.9

    async def test_search_only_reads_the_query_vector(self, ready: MemoryStore) -> None:
        """Troubleshooting: the query may be the caller's own array (a unit-length query is
        not copied); scale or convert a copy, never the vector itself.
        """
        vectors = unit_vectors(3, seed=14)
        await ready.upsert("u", [intervention("u", n) for n in range(3)], UnitVectors(vectors))
        query = vectors[1].copy()
        await ready.search("u", UnitVectors(query), 3, SearchFilter())
        assert np.array_equal(query, vectors[1])

    async def test_search_of_a_user_without_records_is_empty(self, ready: MemoryStore) -> None:
        """Troubleshooting: an unknown user is not an error."""
        assert (
            await ready.search(
                "nobody", UnitVectors(unit_vectors(1, seed=13)[0]), 5, SearchFilter()
            )
            == []
        )

    async def test_filters_apply_before_ranking(self, ready: MemoryStore) -> None:
        """Troubleshooting: k matching hits must come back even when the nearest records
        do not match; post-filtering the top k of everything fails this.
        """
        vectors = unit_vectors(60, seed=14)
        query = vectors[0]
        order = np.argsort(-(vectors @ query))
        far = set(order[-5:].tolist())
        records = [
            intervention(
                "u", n, outcome=Outcome.TASK_COMPLETED if n in far else Outcome.NO_RESPONSE
            )
            for n in range(60)
        ]
        await ready.upsert("u", records, UnitVectors(vectors))
        done = SearchFilter(outcomes=frozenset({Outcome.TASK_COMPLETED}))
        hits = await ready.search("u", UnitVectors(query), 5, done)
        assert {hit.record.id for hit in hits} == {f"i{n}" for n in far}


class FilterContract(StoreFixtures):
    """Each filter field alone and combined, the same in search, list and count."""

    @pytest.fixture
    async def varied(self, ready: MemoryStore) -> MemoryStore:
        records: list[MemoryRecord] = [
            intervention(
                "u", 0, outcome=Outcome.TASK_COMPLETED, task="breathing", metadata={"lang": "en"}
            ),
            intervention(
                "u", 1, outcome=Outcome.NO_RESPONSE, task="breathing", metadata={"lang": "de"}
            ),
            intervention(
                "u", 2, outcome=Outcome.TASK_COMPLETED, task="walk it off", metadata={"n": 1}
            ),
            intervention(
                "u", 3, outcome=Outcome.USER_RESISTED, task="walk it off", metadata={"n": True}
            ),
            intervention(
                "u", 4, outcome=Outcome.TASK_COMPLETED, task="breathing-deep", metadata={"n": "1"}
            ),
            reflection("u", 5),
        ]
        await ready.upsert("u", records, unit_vectors(len(records), seed=20))
        return ready

    CASES: ClassVar[dict[str, tuple[SearchFilter, set[str]]]] = {
        "kind": (SearchFilter(kind=RecordKind.REFLECTION), {"r5"}),
        "outcome": (SearchFilter(outcomes=frozenset({Outcome.TASK_COMPLETED})), {"i0", "i2", "i4"}),
        "outcomes": (
            SearchFilter(outcomes=frozenset({Outcome.NO_RESPONSE, Outcome.USER_RESISTED})),
            {"i1", "i3"},
        ),
        "reflections have no outcome": (
            SearchFilter(kind=RecordKind.REFLECTION, outcomes=frozenset(Outcome)),
            set(),
        ),
        "task exact": (SearchFilter(task="breathing"), {"i0", "i1"}),
        "task with spaces": (SearchFilter(task="walk it off"), {"i2", "i3"}),
        "after (inclusive)": (
            SearchFilter(created_after=T0 + timedelta(minutes=3)),
            {"i3", "i4", "r5"},
        ),
        "before (exclusive)": (SearchFilter(created_before=T0 + timedelta(minutes=1)), {"i0"}),
        "metadata str": (SearchFilter(metadata={"lang": "de"}), {"i1"}),
        "metadata int is not bool or str": (SearchFilter(metadata={"n": 1}), {"i2"}),
        "metadata bool": (SearchFilter(metadata={"n": True}), {"i3"}),
        "metadata float": (SearchFilter(metadata={"confidence": 0.8}), {"r5"}),
        "combined": (
            SearchFilter(
                kind=RecordKind.INTERVENTION,
                outcomes=frozenset({Outcome.TASK_COMPLETED}),
                task="breathing",
                created_before=T0 + timedelta(minutes=2),
            ),
            {"i0"},
        ),
        "nothing matches": (SearchFilter(task="breath"), set()),
    }

    @pytest.mark.parametrize("case", list(CASES))
    async def test_each_filter_means_the_same_everywhere(
        self, varied: MemoryStore, case: str
    ) -> None:
        """Troubleshooting: compare with :meth:`memcore.SearchFilter.matches`, the reference
        semantics; ``task`` is exact (not full-text), metadata equality is type-strict.
        """
        filters, expected = self.CASES[case]
        hits = await varied.search("u", UnitVectors(unit_vectors(1, seed=21)[0]), 10, filters)
        assert {hit.record.id for hit in hits} == expected
        assert await _ids(varied, "u", filters) == expected
        assert await varied.count("u", filters) == len(expected)


class ConcurrencyContract(StoreFixtures):
    """Many tasks at once lose nothing and duplicate nothing."""

    async def test_concurrent_writers_lose_nothing(self, ready: MemoryStore) -> None:
        """Troubleshooting: share no mutable state between calls without a lock; a pool
        that is too small must queue, not fail.
        """
        vectors = unit_vectors(200, seed=40)

        async def writer(user: int) -> None:
            for n in range(10):
                row = user * 10 + n
                await ready.upsert(
                    f"w{user}", [intervention(f"w{user}", row)], UnitVectors(vectors[row : row + 1])
                )

        await asyncio.gather(*(writer(user) for user in range(20)))
        counts = await asyncio.gather(*(ready.count(f"w{u}", SearchFilter()) for u in range(20)))
        assert counts == [10] * 20

    async def test_concurrent_writes_of_one_id_leave_one_record(self, ready: MemoryStore) -> None:
        """Troubleshooting: upsert must overwrite atomically by id, even when racing itself."""
        record = intervention("u", 1)
        vectors = unit_vectors(1, seed=41)
        await asyncio.gather(
            *(ready.upsert("u", [record], UnitVectors(vectors)) for _ in range(20))
        )
        assert await ready.count("u", SearchFilter()) == 1
        assert await _ids(ready, "u") == {"i1"}


class StoreContract(
    RoundTripContract,
    SearchContract,
    FilterContract,
    ListingContract,
    ConcurrencyContract,
    IsolationContract,
    AdminContract,
    LifecycleContract,
    UpdateContract,
    ScopeContract,
    ExpiryContract,
    ServiceCallsContract,
):
    """Every promise of :class:`memcore.ports.MemoryStore`; subclass and provide ``store``."""


__all__ = ["StoreContract"]
