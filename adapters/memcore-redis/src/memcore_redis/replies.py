"""Reading RediSearch replies (RESP2): rows, hits, pages and a transaction's errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memcore.adapterkit import encode_cursor
from memcore.domain import MemoryRecord, Page, SearchHit
from memcore_redis.query import DISTANCE

_DISTANCE_KEY = DISTANCE.encode()


def page(records: Sequence[MemoryRecord], limit: int) -> Page[MemoryRecord]:
    """The first ``limit`` of ``records`` (one more, if there, says a next page exists)."""
    items = tuple(records[:limit])
    if len(records) <= limit:
        return Page(items=items)
    last = items[-1]
    return Page(items=items, next_cursor=encode_cursor(last.created_at.timestamp(), last.id))


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
