"""Reading RediSearch replies (RESP2): rows, hits, pages and a transaction's errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from memcore.adapterkit import encode_cursor
from memcore.domain import MemoryRecord, Page, SearchHit, utcnow
from memcore_redis.query import DISTANCE

RecordT = TypeVar("RecordT", bound=MemoryRecord)

_DISTANCE_KEY = DISTANCE.encode()


def page(records: Sequence[MemoryRecord], limit: int) -> Page[MemoryRecord]:
    """The first ``limit`` of ``records`` (one more, if there, says a next page exists),
    but the expired ones (see :func:`live`): the next page starts after them all the same.
    """
    first = records[:limit]
    items = tuple(live(first))
    if len(records) <= limit:
        return Page(items=items)
    last = first[-1]
    return Page(items=items, next_cursor=encode_cursor(last.created_at.timestamp(), last.id))


def live(records: Iterable[RecordT]) -> list[RecordT]:
    """``records`` but those whose ``expires_at`` has passed: the server deletes an
    expired key (and the index its document) soon after, not at once.
    """
    now = utcnow()
    return [r for r in records if r.expires_at is None or r.expires_at > now]


def live_hits(hits: Iterable[SearchHit[RecordT]]) -> list[SearchHit[RecordT]]:
    """``hits`` but those of expired records (see :func:`live`)."""
    now = utcnow()
    return [h for h in hits if h.record.expires_at is None or h.record.expires_at > now]


def hit(record: MemoryRecord, fields: dict[bytes, Any]) -> SearchHit[MemoryRecord]:
    """A search hit; cosine similarity from the index's distance, clamped to [-1, 1]."""
    score = 1.0 - float(fields[_DISTANCE_KEY])
    return SearchHit(record, min(1.0, max(-1.0, score)))


def raise_first_error(replies: Sequence[Any]) -> None:
    """Raise the first error among a transaction's replies (EXEC returns them, not raises)."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply


def row(flat: Sequence[Any]) -> dict[bytes, Any]:
    """A RESP2 row (name, value, name, value...) as a dict keyed by the raw names."""
    pairs = iter(flat)
    return dict(zip(pairs, pairs, strict=True))


def text(value: Any) -> str:
    """A reply value (bytes or not) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)
