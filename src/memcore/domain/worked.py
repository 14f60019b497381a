"""Answers to "what worked": past interventions ranked by similarity and by how they turned out.

:func:`rank_worked` is the whole rule, deterministic and explainable: each candidate's
``score`` is ``max(similarity, 0) * outcome_weight * recency``, where ``recency`` is
``0.5 ** (age / half_life)`` (1 without a half-life); ties go to the more similar, then
the newer, then the smaller id. The per-task rates count every candidate by outcome.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from memcore.domain.outcome import Outcome
from memcore.domain.records import Intervention
from memcore.domain.results import SearchHit, Status

__all__ = ["TaskRate", "WhatWorked", "WorkedHit", "rank_worked"]

_COMPLETED = Outcome.TASK_COMPLETED.value
_VALUES: Mapping[Outcome, str] = {outcome: outcome.value for outcome in Outcome}


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
        return self.by_outcome.get(_COMPLETED, 0)

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
        record, similarity = match.record, match.score
        weight = weights.get(record.outcome, 0.0)
        recency = 1.0
        if half_life is not None:
            recency = 0.5 ** max((now - record.created_at) / half_life, 0.0)
        score = similarity * weight * recency if similarity > 0.0 else 0.0
        ranked.append((score, similarity, record.created_at, record.id, record, weight, recency))
    # The rule's order, by two stable sorts: the smaller id first among equals, then the
    # higher score, the more similar and the newer first.
    ranked.sort(key=_ID)
    ranked.sort(key=_MERIT, reverse=True)
    hits = tuple(
        WorkedHit(record, similarity, weight, recency, score)
        for score, similarity, _, _, record, weight, recency in ranked[:k]
    )
    return WhatWorked(hits, _rates(matches), status)


_ID = operator.itemgetter(3)
_MERIT = operator.itemgetter(0, 1, 2)  # score, similarity, created_at


def _rates(matches: Sequence[SearchHit[Intervention]]) -> tuple[TaskRate, ...]:
    counted: dict[tuple[str, str], int] = {}
    for match in matches:
        record = match.record
        pair = (record.task, _VALUES[record.outcome])
        counted[pair] = counted.get(pair, 0) + 1
    by_task: dict[str, dict[str, int]] = {}
    for (task, outcome), count in sorted(counted.items()):  # by task, then outcome
        counts = by_task.get(task)
        if counts is None:
            counts = by_task[task] = {}
        counts[outcome] = count
    rates = [
        TaskRate(task, sum(counts.values()), MappingProxyType(counts))
        for task, counts in by_task.items()
    ]
    rates.sort(key=_rate_order)  # stable: tasks of equal counts stay in task order
    return tuple(rates)


def _rate_order(rate: TaskRate) -> tuple[int, int]:
    return -rate.total, -rate.completed
