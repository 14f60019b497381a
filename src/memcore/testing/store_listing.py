"""The store contract for ``list`` and ``count``: every record exactly once, oldest first."""

from __future__ import annotations

from memcore.domain import Outcome, SearchFilter
from memcore.ports import MemoryStore
from memcore.testing._suite import StoreFixtures, intervention, unit_vectors

__all__ = ["ListingContract"]


class ListingContract(StoreFixtures):
    """list and count: every record exactly once, oldest first, page by page."""

    async def test_paging_visits_every_record_once_in_order(self, ready: MemoryStore) -> None:
        """Troubleshooting: order by (created_at, id) and resume strictly after the cursor;
        records with equal timestamps are ordered by id.
        """
        records = [intervention("u", n, minutes=n // 3) for n in range(25)]
        await ready.upsert("u", records, unit_vectors(25, seed=30))
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = await ready.list("u", SearchFilter(), 10, cursor)
            assert len(page.items) <= 10
            seen += [record.id for record in page.items]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        expected = sorted(records, key=lambda r: (r.created_at, r.id))
        assert seen == [record.id for record in expected]
        assert pages == 3

    async def test_paging_through_many_equal_timestamps(self, ready: MemoryStore) -> None:
        """Troubleshooting: when more records share a timestamp than fit a page, the
        cursor's id decides where the next page starts (no record lost or repeated).
        """
        records = [intervention("u", n, minutes=0) for n in range(30)]
        await ready.upsert("u", records, unit_vectors(30, seed=32))
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = await ready.list("u", SearchFilter(), 4, cursor)
            seen += [record.id for record in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == sorted(record.id for record in records)

    async def test_listing_pages_through_filtered_records(self, ready: MemoryStore) -> None:
        """Troubleshooting: apply filters in the listing query, not per page afterwards."""
        records = [
            intervention("u", n, outcome=Outcome.TASK_COMPLETED if n % 2 else Outcome.NO_RESPONSE)
            for n in range(12)
        ]
        await ready.upsert("u", records, unit_vectors(12, seed=31))
        done = SearchFilter(outcomes=frozenset({Outcome.TASK_COMPLETED}))
        first = await ready.list("u", done, 4)
        assert first.next_cursor is not None
        second = await ready.list("u", done, 4, first.next_cursor)
        assert [r.id for r in first.items + second.items] == [f"i{n}" for n in range(1, 12, 2)]
        assert second.next_cursor is None
        assert await ready.count("u", done) == 6

    async def test_an_empty_user_lists_nothing(self, ready: MemoryStore) -> None:
        """Troubleshooting: an unknown user is an empty page, not an error."""
        page = await ready.list("nobody", SearchFilter(), 10)
        assert page.items == ()
        assert page.next_cursor is None
        assert await ready.count("nobody", SearchFilter()) == 0
