"""What stores and services hand back: hits, pages, schemas and health checks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

from typing_extensions import Self

from memcore.domain.records import MemoryRecord

RecordT_co = TypeVar("RecordT_co", bound=MemoryRecord, covariant=True)
RecordT = TypeVar("RecordT", bound=MemoryRecord)


@dataclass(frozen=True, slots=True)
class SearchHit(Generic[RecordT_co]):
    """One search result.

    ``score`` is the cosine similarity between the query and the record's embedding:
    in ``[-1.0, 1.0]``, higher is more similar, ``1.0`` for the same direction. Every
    backend reports this same number (Redis' cosine *distance* is converted), so a
    threshold chosen on one backend means the same on another.
    """

    record: RecordT_co
    score: float


class Status(str, Enum):
    """What became of a call: a write's receipt and a read's answer say which.

    - ``stored``: the write is in the store; every read that starts now sees it.
    - ``deferred``: the store was unavailable; the write waits in the outbox (durable by
      default) and is replayed, in order, once the store is back. Not yet readable.
    - ``complete``: the read's answer is whole.
    - ``degraded``: the store could not answer (the answer is empty), or writes are still
      deferred (the answer may miss them).
    - ``partial``: the store answered while its index was still being built; records not
      indexed yet are missing from the answer.
    """

    STORED = "stored"
    DEFERRED = "deferred"
    COMPLETE = "complete"
    DEGRADED = "degraded"
    PARTIAL = "partial"


@dataclass(frozen=True, slots=True)
class Receipt(Generic[RecordT_co]):
    """What a write returns: the records as written (with their ids) and their :class:`Status`.

    ``status`` is :attr:`Status.STORED` or :attr:`Status.DEFERRED`; a deferred write is
    not an error, but it is not readable until the outbox is replayed.
    """

    records: tuple[RecordT_co, ...]
    status: Status = Status.STORED

    @property
    def record(self) -> RecordT_co:
        """The one record of a single write (``ValueError`` for a batch of another size)."""
        if len(self.records) != 1:
            raise ValueError(f"this receipt holds {len(self.records)} records; use .records")
        return self.records[0]

    @property
    def id(self) -> str:
        """The id of the one record of a single write."""
        return self.record.id

    @property
    def ids(self) -> tuple[str, ...]:
        """The ids of every record written, in order."""
        return tuple(record.id for record in self.records)

    @property
    def stored(self) -> bool:
        """True when the write is in the store."""
        return self.status is Status.STORED

    @property
    def deferred(self) -> bool:
        """True when the write waits in the outbox (not yet in the store)."""
        return self.status is Status.DEFERRED


class Removed(int):
    """How many records a delete removed: an ``int``, plus the delete's :class:`Status`.

    ``stored`` once done; ``deferred`` when the store was unavailable and the delete waits
    in the outbox (the count is then 0: nothing is known to be removed yet).
    """

    status: Status

    def __new__(cls, count: int, status: Status = Status.STORED) -> Self:
        removed = super().__new__(cls, count)
        removed.status = status
        return removed

    @property
    def deferred(self) -> bool:
        """True when the delete waits in the outbox (not yet done)."""
        return self.status is Status.DEFERRED

    def __repr__(self) -> str:
        return f"Removed({int(self)}, status={self.status.value})"


class Count(int):
    """How many records a count found: an ``int``, plus the read's :class:`Status`.

    ``partial`` when the store's index was still being built (records not indexed yet
    are not counted), ``degraded`` when the store could not answer (the count is 0).
    """

    status: Status

    def __new__(cls, count: int, status: Status = Status.COMPLETE) -> Self:
        counted = super().__new__(cls, count)
        counted.status = status
        return counted

    @property
    def complete(self) -> bool:
        """True when no record that should be counted can be missing."""
        return self.status is Status.COMPLETE

    def __repr__(self) -> str:
        return f"Count({int(self)}, status={self.status.value})"


class UserIds(list[str]):
    """Every user id with records, sorted: a plain list, plus the read's :class:`Status`.

    ``partial`` when the store's index was still being built (the store looked for the
    users it may miss, but a record written meanwhile can still be missed), ``degraded``
    when the store could not answer (the list is empty).
    """

    def __init__(self, users: Iterable[str] = (), *, status: Status = Status.COMPLETE) -> None:
        super().__init__(users)
        self.status = status

    @property
    def complete(self) -> bool:
        """True when no user with records can be missing."""
        return self.status is Status.COMPLETE

    def __repr__(self) -> str:
        return f"UserIds({list.__repr__(self)}, status={self.status.value})"


class SearchResults(list["SearchHit[RecordT]"]):
    """The hits of a search, best first: a plain list, plus its :class:`Status`.

    ``status`` is ``complete``, or ``degraded``/``partial`` when the answer may miss
    records (see :class:`Status` and ``docs/reliability.md``); :attr:`complete` says
    whether it can be trusted as whole.
    """

    def __init__(
        self, hits: Iterable[SearchHit[RecordT]] = (), *, status: Status = Status.COMPLETE
    ) -> None:
        super().__init__(hits)
        self.status = status

    @property
    def complete(self) -> bool:
        """True when no record the search should have found can be missing."""
        return self.status is Status.COMPLETE

    @property
    def degraded(self) -> bool:
        """True when the answer may be incomplete (``degraded`` or ``partial``)."""
        return self.status is not Status.COMPLETE

    @property
    def partial(self) -> bool:
        """True when the store's index was still being built."""
        return self.status is Status.PARTIAL

    def __repr__(self) -> str:
        return f"SearchResults({list.__repr__(self)}, status={self.status.value})"


@dataclass(frozen=True, slots=True)
class Page(Generic[RecordT_co]):
    """One page of a listing; pass ``next_cursor`` back for the next, ``None`` means done.

    ``status`` is ``complete``, or ``degraded``/``partial`` when the page may miss records.
    """

    items: tuple[RecordT_co, ...]
    next_cursor: str | None = None
    status: Status = Status.COMPLETE


@dataclass(frozen=True, slots=True)
class EmbeddingSchema:
    """What a store's vectors mean: their dimension and the model that made them."""

    dimension: int
    model: str

    def describe(self) -> str:
        """Human form used in mismatch messages, e.g. ``384 dims of 'all-MiniLM-L6-v2'``."""
        return f"{self.dimension} dims of {self.model!r}"


class HealthStatus(str, Enum):
    """Overall state of a component, from best to worst."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """The state of one component (store, embedder, cache...) at one moment."""

    component: str
    status: HealthStatus
    latency_ms: float
    detail: str = ""
    facts: dict[str, str | int | float | bool] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The state of the whole service: the worst of its components' checks."""

    status: HealthStatus
    checks: tuple[HealthCheck, ...]

    @classmethod
    def of(cls, checks: tuple[HealthCheck, ...]) -> HealthReport:
        """A report whose status is the worst status among ``checks``."""
        order = list(HealthStatus)
        worst = max((order.index(check.status) for check in checks), default=0)
        return cls(status=order[worst], checks=checks)


@dataclass(frozen=True, slots=True)
class MemoryStats:
    """How many memories one user has, by kind and by intervention outcome."""

    user_id: str
    interventions: int
    reflections: int
    by_outcome: dict[str, int] = field(default_factory=dict, hash=False)
    status: Status = Status.COMPLETE
    """``degraded`` or ``partial`` when a count may miss records."""
