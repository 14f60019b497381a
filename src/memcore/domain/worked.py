"""Answers to "what worked": past interventions ranked by similarity and by how they turned out.

:func:`rank_worked` is the whole rule, deterministic and explainable: each candidate's
``score`` is ``max(similarity, 0) * outcome_weight * recency``, where ``recency`` is
``0.5 ** (age / half_life)`` (1 without a half-life); ties go to the more similar, then
the newer, then the smaller id. The per-task rates count every candidate by outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from memcore.domain.outcome import Outcome
from memcore.domain.records import Intervention
from memcore.domain.results import SearchHit, Status

__all__ = ["TaskRate", "WhatWorked", "WorkedHit", "rank_worked"]


@dataclass(frozen=True, slots=True)
class WorkedHit:
    """One past intervention and why it ranks where it does: ``score`` is
    ``max(similarity, 0) * outcome_weight * recency``.
    """

    record: Intervention
    similarity: float
    outcome_weight: float
    recency: float
    score: float


@dataclass(frozen=True, slots=True)
class TaskRate:
    """How the matching interventions of one task turned out."""

    task: str
    total: int
    by_outcome: Mapping[str, int] = field(hash=False)
    """Outcome value -> how many; outcomes none had are left out."""

    @property
    def completed(self) -> int:
        """How many ended with ``task_completed``."""
        return self.by_outcome.get(Outcome.TASK_COMPLETED.value, 0)

    def __str__(self) -> str:
        return f"{self.task}: {self.completed} of {self.total} completed"

    def as_dict(self) -> dict[str, Any]:
        """The rate as plain data, with its one-line ``summary`` (what integrations send)."""
        return {
            "task": self.task,
            "summary": str(self),
            "completed": self.completed,
            "total": self.total,
            "by_outcome": dict(self.by_outcome),
        }


@dataclass(frozen=True, slots=True)
class WhatWorked:
    """The answer of :meth:`~memcore.MemoryService.what_worked`: the best ``hits`` first,
    the outcome ``rates`` of each task among all the matches (most matches first), and
    whether the search behind it was complete.
    """

    hits: tuple[WorkedHit, ...] = ()
    rates: tuple[TaskRate, ...] = ()
    status: Status = Status.COMPLETE


def rank_worked(
    matches: Sequence[SearchHit[Intervention]],
    *,
    k: int,
    weights: Mapping[Outcome, float],
    half_life: timedelta | None,
    now: datetime,
    status: Status = Status.COMPLETE,
) -> WhatWorked:
    """The ``k`` best of ``matches`` by the module's rule, and the rates of all of them.

    ``weights`` gives each outcome's weight (an outcome left out weighs 0).
    """
    ranked = []
    for match in matches:
        record = match.record
        weight = weights.get(record.outcome, 0.0)
        recency = 1.0
        if half_life is not None:
            age = max((now - record.created_at) / half_life, 0.0)
            recency = 0.5**age
        score = max(match.score, 0.0) * weight * recency
        order = (-score, -match.score, -record.created_at.timestamp(), record.id)
        ranked.append((order, record, match.score, weight, recency, score))
    ranked.sort(key=_first)
    hits = tuple(
        WorkedHit(record, similarity, weight, recency, score)
        for _, record, similarity, weight, recency, score in ranked[:k]
    )
    return WhatWorked(hits, _rates(matches), status)


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


def _rates(matches: Sequence[SearchHit[Intervention]]) -> tuple[TaskRate, ...]:
    by_task: dict[str, dict[str, int]] = {}
    for match in matches:
        record = match.record
        counts = by_task.get(record.task)
        if counts is None:
            counts = by_task[record.task] = {}
        outcome = record.outcome.value
        counts[outcome] = counts.get(outcome, 0) + 1
    rates = [
        TaskRate(task, sum(counts.values()), MappingProxyType(dict(sorted(counts.items()))))
        for task, counts in by_task.items()
    ]
    rates.sort(key=lambda rate: (-rate.total, -rate.completed, rate.task))
    return tuple(rates)
