"""Settings of a memory's later life: how "what worked" ranks, what a duplicate does,
how long records are kept. Part of :class:`~memcore.settings.MemcoreSettings`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from memcore.domain import Outcome, RecordKind

__all__ = [
    "DEFAULT_OUTCOME_WEIGHTS",
    "DuplicatePolicy",
    "DuplicateSettings",
    "RetentionSettings",
    "WhatWorkedSettings",
]


DEFAULT_OUTCOME_WEIGHTS: dict[Outcome, float] = {
    Outcome.TASK_COMPLETED: 1.0,
    Outcome.PARTIAL_PROGRESS: 0.7,
    Outcome.USER_ENGAGED: 0.5,
    Outcome.UNKNOWN: 0.3,
    Outcome.NO_RESPONSE: 0.2,
    Outcome.ESCALATED: 0.2,
    Outcome.TASK_ABANDONED: 0.1,
    Outcome.USER_RESISTED: 0.1,
}


class WhatWorkedSettings(BaseModel):
    """How :meth:`~memcore.MemoryService.what_worked` ranks (``MEMCORE_WHAT_WORKED__*``):
    a hit's score is ``max(similarity, 0) * outcome weight * recency``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome_weights: dict[Outcome, float] = Field(
        default_factory=lambda: dict(DEFAULT_OUTCOME_WEIGHTS),
        description="Outcome -> weight in [0, 1]; an outcome left out weighs 0.",
    )
    half_life_days: float | None = Field(
        default=None, gt=0, description="Age at which recency halves a score; unset: no decay."
    )
    candidates: int = Field(
        default=20, ge=1, le=10_000, description="How many nearest interventions are ranked."
    )

    @model_validator(mode="after")
    def _weights_in_range(self) -> WhatWorkedSettings:
        if any(not 0 <= weight <= 1 for weight in self.outcome_weights.values()):
            raise ValueError("outcome_weights must lie in [0, 1]")
        return self


class RetentionSettings(BaseModel):
    """How long memories are kept by default (``MEMCORE_RETENTION__*``): a record written
    without ``ttl`` or ``expires_at`` expires this many days after it is recorded.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    intervention_days: float | None = Field(
        default=None, gt=0, description="Days an intervention is kept; unset: forever."
    )
    reflection_days: float | None = Field(
        default=None, gt=0, description="Days a reflection is kept; unset: forever."
    )
    refresh_on_read: bool = Field(
        default=False,
        description="A record a read returns (get, search, what_worked) expires its kind's "
        "retention from then on, if it has one and expires at all.",
    )

    def retention_of(self, kind: RecordKind) -> timedelta | None:
        """How long a record of ``kind`` is kept by default (``None``: forever)."""
        days = self.intervention_days if kind is RecordKind.INTERVENTION else self.reflection_days
        return None if days is None else timedelta(days=days)


DuplicatePolicy = Literal["keep", "skip", "merge"]


class DuplicateSettings(BaseModel):
    """What recording an intervention does with a duplicate (``MEMCORE_DUPLICATES__*``):
    one of the same user, task and scope whose embedding is at least ``threshold``
    similar.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: DuplicatePolicy = Field(
        default="keep",
        description="keep (store it too), skip (keep the old one only) or merge (keep the "
        "old one, count it seen once more).",
    )
    threshold: float = Field(
        default=0.97, ge=-1, le=1, description="Cosine similarity from which it is a duplicate."
    )
