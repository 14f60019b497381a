"""Request and response bodies: the OpenAPI schema is generated from these models.

They check shape only (types, unknown fields, finite numbers); the rules on content
(lengths, ids, metadata) are the library's own, raised by the service as a
``ValidationError`` naming the field. No model has a user id: the caller's
credential says who it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, WithJsonSchema

from memcore import (
    Intervention,
    MemoryRecord,
    MemoryStats,
    Outcome,
    Page,
    Receipt,
    RecordKind,
    Reflection,
    SearchResults,
    Status,
    WhatWorked,
)

Metadata = Annotated[
    dict[str, Any],
    # Its rules (keys, scalar values, finite floats, sizes) are the library's own.
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": {"type": ["string", "integer", "number", "boolean"]},
        }
    ),
    Field(description="Flat key → string, integer, float or boolean; filterable by equality."),
]
Text = Annotated[StrictStr, Field(description="Free text.")]
OptionalId = Annotated[StrictStr | None, Field(description="A record id (32 hex characters).")]
ScopeId = Annotated[
    StrictStr | None,
    Field(description="A scope within the caller's memories (validated like a user id)."),
]
WriteStatus = Literal[Status.STORED, Status.DEFERRED]
ReadStatus = Literal[Status.COMPLETE, Status.DEGRADED, Status.PARTIAL]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Scoped(_In):
    """Optional scopes within the caller's memories: the agent and the session."""

    agent_id: ScopeId = None
    session_id: ScopeId = None


class InterventionIn(_Scoped):
    """One intervention to record."""

    intervention_text: Text = Field(description="What the agent said or did.")
    task: Text = Field(description="The task it aimed at, e.g. calm_down.")
    context: Text = Field(default="", description="The situation it was made in.")
    outcome: Outcome = Field(default=Outcome.UNKNOWN, description="What happened after.")
    metadata: Metadata = Field(default_factory=dict)
    created_at: datetime | None = Field(default=None, description="Default: now.")
    id: OptionalId = None
    idempotency_key: StrictStr | None = Field(
        default=None, description="A retried write with the same key lands on the same record."
    )


class InterventionBatchIn(_In):
    """Interventions recorded together: all of them, or none if one is invalid."""

    items: list[InterventionIn]


class ReflectionIn(_Scoped):
    """One reflection drawn from some interventions."""

    text: Text = Field(description="The insight.")
    source_ids: list[StrictStr] = Field(default_factory=list, description="Its interventions.")
    metadata: Metadata = Field(default_factory=dict)
    created_at: datetime | None = Field(default=None, description="Default: now.")
    id: OptionalId = None
    idempotency_key: StrictStr | None = None


class FiltersIn(_Scoped):
    """Conditions a record must all meet; unset ones match everything."""

    outcome: Outcome | None = Field(default=None, description="One outcome.")
    outcomes: list[Outcome] | None = Field(default=None, description="Any of these outcomes.")
    task: StrictStr | None = Field(default=None, description="The task, exactly.")
    created_after: datetime | None = Field(default=None, description="Inclusive.")
    created_before: datetime | None = Field(default=None, description="Exclusive.")
    metadata: Metadata | None = Field(default=None, description="Every key with this value.")


class SearchIn(_In):
    """A similarity search among the caller's records."""

    query: Text = Field(description="A situation described in words.")
    k: StrictInt = Field(default=5, description="How many hits at most.")
    filters: FiltersIn | None = None


class OutcomeIn(_In):
    """The outcome of an intervention, known now."""

    outcome: Outcome = Field(description="How it turned out.")


class WhatWorkedIn(_Scoped):
    """The caller's situation, to rank past interventions by similarity and outcome."""

    situation: Text = Field(description="The situation now, described in words.")
    task: StrictStr | None = Field(default=None, description="Only interventions of this task.")
    k: StrictInt = Field(default=5, description="How many hits at most.")


class ListQuery(_Scoped):
    """One page of the caller's records, oldest first."""

    limit: int = Field(default=50, description="Records per page.")
    cursor: str | None = Field(default=None, description="next_cursor of the previous page.")
    kind: RecordKind | None = Field(default=None, description="Only this kind.")
    task: str | None = Field(default=None, description="Only this task.")


class OutcomeChangeOut(BaseModel):
    """An outcome an update set, and when."""

    outcome: Outcome
    at: datetime


class InterventionOut(BaseModel):
    """A stored intervention; ``updated_at`` is ``null`` until an update changes it."""

    kind: Literal[RecordKind.INTERVENTION] = RecordKind.INTERVENTION
    id: str
    intervention_text: str
    task: str
    context: str
    outcome: Outcome
    created_at: datetime
    metadata: Metadata
    agent_id: str | None = None
    session_id: str | None = None
    updated_at: datetime | None = None
    outcome_history: list[OutcomeChangeOut] = Field(
        default_factory=list, description="The outcomes updates set, oldest first."
    )


class ReflectionOut(BaseModel):
    """A stored reflection; ``updated_at`` is ``null`` until an update changes it."""

    kind: Literal[RecordKind.REFLECTION] = RecordKind.REFLECTION
    id: str
    text: str
    source_ids: list[str]
    created_at: datetime
    metadata: Metadata
    agent_id: str | None = None
    session_id: str | None = None
    updated_at: datetime | None = None


RecordOut = Annotated[InterventionOut | ReflectionOut, Field(discriminator="kind")]


class WrittenOut(BaseModel):
    """A write's receipt: ``stored`` (201), or ``deferred`` (202: in the outbox, not yet
    readable; it reaches the store when the store is back).
    """

    status: WriteStatus
    records: list[RecordOut]


class HitOut(BaseModel):
    """One hit; ``score`` is the cosine similarity in [-1, 1], higher is closer."""

    score: float
    record: RecordOut


class SearchOut(BaseModel):
    """Hits, best first. ``complete`` is false when the answer may miss records."""

    status: ReadStatus
    complete: bool
    hits: list[HitOut]


class WorkedHitOut(BaseModel):
    """A past intervention and why it ranks here:
    ``score = max(similarity, 0) * outcome_weight * recency``.
    """

    score: float
    similarity: float = Field(description="Cosine similarity of its situation to this one.")
    outcome_weight: float = Field(description="Its outcome's weight (MEMCORE_WHAT_WORKED__*).")
    recency: float = Field(description="1, or less with a half-life set.")
    record: InterventionOut


class RateOut(BaseModel):
    """How the matching interventions of one task turned out."""

    task: str
    summary: str = Field(description="e.g. 'calm_down: 4 of 5 completed'.")
    completed: int
    total: int
    by_outcome: dict[str, int]


class WhatWorkedOut(BaseModel):
    """What worked, best first, and each task's outcome rates among all the matches."""

    status: ReadStatus
    complete: bool
    hits: list[WorkedHitOut]
    rates: list[RateOut]


class PageOut(BaseModel):
    """One page; pass ``next_cursor`` back for the next, ``null`` means done."""

    items: list[RecordOut]
    next_cursor: str | None


class StatsOut(BaseModel):
    """The caller's memories, counted."""

    interventions: int
    reflections: int
    by_outcome: dict[str, int]


class DeletedOut(BaseModel):
    """How many records existed and were deleted (0 while ``deferred``)."""

    status: WriteStatus
    deleted: int


class ErrorOut(BaseModel):
    """Every error has this body. ``error`` is stable and tells what to do next."""

    error: str = Field(description="invalid, unauthorized, not_found, rate_limited, ...")
    message: str
    field: str | None = Field(default=None, description="The offending input, if one.")
    retry_after: float | None = Field(default=None, description="Seconds to wait, if retryable.")


def record_out(record: MemoryRecord) -> InterventionOut | ReflectionOut:
    """The response form of ``record``."""
    if isinstance(record, Intervention):
        return intervention_out(record)
    return ReflectionOut(
        id=record.id,
        text=record.text,
        source_ids=list(record.source_ids),
        created_at=record.created_at,
        metadata=dict(record.metadata),
        agent_id=record.agent_id,
        session_id=record.session_id,
        updated_at=record.updated_at,
    )


def intervention_out(record: Intervention) -> InterventionOut:
    """The response form of an intervention."""
    history = [OutcomeChangeOut(outcome=c.outcome, at=c.at) for c in record.outcome_history]
    return InterventionOut(
        id=record.id,
        intervention_text=record.intervention_text,
        task=record.task,
        context=record.context,
        outcome=record.outcome,
        created_at=record.created_at,
        metadata=dict(record.metadata),
        agent_id=record.agent_id,
        session_id=record.session_id,
        updated_at=record.updated_at,
        outcome_history=history,
    )


def written_out(receipt: Receipt[MemoryRecord]) -> WrittenOut:
    """A receipt's response form."""
    return WrittenOut.model_validate(
        {"status": receipt.status, "records": [record_out(r) for r in receipt.records]}
    )


def search_out(results: SearchResults[Intervention] | SearchResults[Reflection]) -> SearchOut:
    """Search results' response form, with their status."""
    hits = [HitOut(score=hit.score, record=record_out(hit.record)) for hit in results]
    return SearchOut.model_validate(
        {"status": results.status, "complete": results.complete, "hits": hits}
    )


def what_worked_out(answer: WhatWorked) -> WhatWorkedOut:
    """What-worked's response form, with its status."""
    hits = [
        WorkedHitOut(
            score=hit.score,
            similarity=hit.similarity,
            outcome_weight=hit.outcome_weight,
            recency=hit.recency,
            record=intervention_out(hit.record),
        )
        for hit in answer.hits
    ]
    rates = [RateOut.model_validate(rate.as_dict()) for rate in answer.rates]
    return WhatWorkedOut.model_validate(
        {
            "status": answer.status,
            "complete": answer.status is Status.COMPLETE,
            "hits": hits,
            "rates": rates,
        }
    )


def page_out(page: Page[MemoryRecord]) -> PageOut:
    """A page's response form."""
    return PageOut(items=[record_out(r) for r in page.items], next_cursor=page.next_cursor)


def stats_out(stats: MemoryStats) -> StatsOut:
    """Stats' response form (the user id left out: it is the caller's)."""
    return StatsOut(
        interventions=stats.interventions,
        reflections=stats.reflections,
        by_outcome=stats.by_outcome,
    )
