"""What stores and services hand back: hits, pages, schemas and health checks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

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


class SearchResults(list["SearchHit[RecordT]"]):
    """The hits of a search, best first: a plain list, plus :attr:`degraded`.

    ``degraded`` is ``True`` when the store could not answer (the list is then empty) or
    answered while deferred writes were still waiting to reach it (the list may miss
    them). See ``docs/reliability.md``.
    """

    def __init__(self, hits: Iterable[SearchHit[RecordT]] = (), *, degraded: bool = False) -> None:
        super().__init__(hits)
        self.degraded = degraded

    def __repr__(self) -> str:
        return f"SearchResults({list.__repr__(self)}, degraded={self.degraded})"


@dataclass(frozen=True, slots=True)
class Page(Generic[RecordT_co]):
    """One page of a listing; pass ``next_cursor`` back for the next, ``None`` means done."""

    items: tuple[RecordT_co, ...]
    next_cursor: str | None = None


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
