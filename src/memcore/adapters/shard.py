"""One user's records in the in-memory store, with a numpy column per indexed field.

A :class:`Shard` keeps one contiguous float32 matrix of unit rows (grown by doubling)
and, for every field the field table indexes (:data:`~memcore.domain.filters.FILTERABLE`),
a column: tag fields as integer codes (:class:`Codes`, shared by a store's shards),
number fields as float64 seconds. A filter is a vectorised mask over those columns,
computed before ranking; a record without a field holds ``-1`` (tag) or NaN (number)
there, which no condition matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from memcore.domain import MemoryRecord, SearchFilter
from memcore.domain.fields import Index
from memcore.domain.filters import FILTERABLE

__all__ = ["Codes", "Shard"]

TAGS = tuple(name for name, spec in FILTERABLE.items() if spec.about.index is Index.TAG)
NUMBERS = tuple(name for name, spec in FILTERABLE.items() if spec.about.index is Index.NUMBER)
_ABSENT = -1
_UNKNOWN = -2  # a filter value no record has: matches nothing


class Codes:
    """Tag value -> integer code, per tag field; codes only ever grow."""

    def __init__(self) -> None:
        self._codes: dict[str, dict[Any, int]] = {name: {} for name in TAGS}

    def code(self, name: str, record: MemoryRecord) -> int:
        """The code of ``record``'s value of tag ``name`` (``-1`` if it has none)."""
        value = getattr(record, name, None)
        if value is None:
            return _ABSENT
        codes = self._codes[name]
        return codes.setdefault(value, len(codes))

    def known(self, name: str, values: Iterable[Any]) -> list[int]:
        """The codes of ``values`` (a value never stored gets a code that matches nothing)."""
        codes = self._codes[name]
        return [codes.get(value, _UNKNOWN) for value in values]


def _seconds(record: MemoryRecord, name: str) -> float:
    value = getattr(record, name, None)
    return value.timestamp() if isinstance(value, datetime) else float("nan")


class Shard:
    """One user's records, vectors and filter columns, row ``i`` for ``records[i]``."""

    __slots__ = ("columns", "expiring", "records", "rows", "size", "vectors")

    def __init__(self, dimension: int, capacity: int = 16) -> None:
        self.vectors: NDArray[np.float32] = np.empty((capacity, dimension), dtype=np.float32)
        self.columns: dict[str, NDArray[Any]] = {
            **{name: np.empty(capacity, dtype=np.int32) for name in TAGS},
            **{name: np.empty(capacity, dtype=np.float64) for name in NUMBERS},
        }
        self.records: list[MemoryRecord] = []
        self.rows: dict[str, int] = {}
        self.size = 0
        self.expiring = 0  # rows with an expires_at

    def put(self, record: MemoryRecord, vector: NDArray[np.float32], codes: Codes) -> None:
        """Insert ``record`` or replace the record with its id."""
        row = self.rows.get(record.id)
        if row is not None:
            self.expiring -= self.records[row].expires_at is not None
        self.expiring += record.expires_at is not None
        if row is None:
            row = self.size
            if row == len(self.vectors):
                self._grow()
            self.rows[record.id] = row
            self.records.append(record)
            self.size += 1
        else:
            self.records[row] = record
        self.vectors[row] = vector
        for name in TAGS:
            self.columns[name][row] = codes.code(name, record)
        for name in NUMBERS:
            self.columns[name][row] = _seconds(record, name)

    def remove(self, record_id: str) -> bool:
        """Remove the record ``record_id``; ``False`` if there was none."""
        row = self.rows.pop(record_id, None)
        if row is None:
            return False
        self.expiring -= self.records[row].expires_at is not None
        last = self.size - 1
        if row != last:  # move the last row into the hole to stay contiguous
            moved = self.records[last]
            self.records[row] = moved
            self.rows[moved.id] = row
            for column in (self.vectors, *self.columns.values()):
                column[row] = column[last]
        self.records.pop()
        self.size = last
        return True

    def matching(self, filters: SearchFilter, codes: Codes, now: float) -> NDArray[np.intp] | None:
        """Row numbers matching ``filters`` and not expired at ``now`` (POSIX seconds), or
        ``None`` when every row does.
        """
        if filters.is_empty and not self.expiring:
            return None
        n = self.size
        mask = np.ones(n, dtype=bool)
        if self.expiring:
            mask &= ~(self.columns["expires_at"][:n] <= now)  # NaN: never expires
        for name, values in filters.tags.items():
            wanted = codes.known(name, values)
            column = self.columns[name][:n]
            mask &= column == wanted[0] if len(wanted) == 1 else np.isin(column, wanted)
        for name, (start, end) in filters.ranges.items():
            column = self.columns[name][:n]
            if start is not None:
                mask &= column >= start.timestamp()
            if end is not None:
                mask &= column < end.timestamp()
        rows = np.flatnonzero(mask)
        if filters.metadata:
            rows = rows[[filters.matches(self.records[row]) for row in rows]]
        return rows

    def expired(self, now: float) -> list[str]:
        """The ids of the records expired at ``now``."""
        if not self.expiring:
            return []
        rows = np.flatnonzero(self.columns["expires_at"][: self.size] <= now)
        return [self.records[row].id for row in rows.tolist()]

    def _grow(self) -> None:
        capacity = 2 * len(self.vectors)
        self.vectors = _grown(self.vectors, capacity, self.size)
        for name, column in self.columns.items():
            self.columns[name] = _grown(column, capacity, self.size)


def _grown(old: NDArray[Any], capacity: int, size: int) -> NDArray[Any]:
    new = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
    new[:size] = old[:size]
    return new
