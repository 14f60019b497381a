"""What the MCP tools answer: structured results, each with a flat JSON schema.

Clients check every structured result against its tool's output schema; a ``$ref``
there about doubles that check's cost (jsonschema), so the nested models' schemas are
inlined with ``WithJsonSchema``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field, WithJsonSchema

from memcore import Intervention, Outcome, Reflection, SearchResults, Status, WhatWorked

__all__ = [
    "Forgotten",
    "InterventionHit",
    "InterventionsFound",
    "Recorded",
    "ReflectionHit",
    "ReflectionsFound",
    "Updated",
    "Worked",
    "interventions_found",
    "reflections_found",
    "updated",
    "worked",
]


class Recorded(BaseModel):
    """A write: ``stored``, or ``deferred`` (the store is away; it is written once back)."""

    status: Literal["stored", "deferred"]
    id: str


def _items(model: type[BaseModel]) -> WithJsonSchema:
    """A list of ``model``, its schema inlined."""
    return WithJsonSchema({"type": "array", "items": model.model_json_schema()})


OutcomeOut = Annotated[
    Outcome, WithJsonSchema({"type": "string", "enum": [member.value for member in Outcome]})
]


class InterventionHit(BaseModel):
    """One intervention found; ``score`` is the cosine similarity in [-1, 1]."""

    id: str
    score: float
    text: str
    task: str
    context: str
    outcome: OutcomeOut
    created_at: datetime


class ReflectionHit(BaseModel):
    """One reflection found; ``score`` is the cosine similarity in [-1, 1]."""

    id: str
    score: float
    text: str
    source_ids: list[str]
    created_at: datetime


class _Found(BaseModel):
    """A search's answer: its status and its hits."""

    status: Literal["complete", "degraded", "partial"]
    complete: bool


class InterventionsFound(_Found):
    """Interventions found, best first; ``complete`` is false when some may be missing."""

    hits: Annotated[list[InterventionHit], _items(InterventionHit)]


class ReflectionsFound(_Found):
    """Reflections found, best first; ``complete`` is false when some may be missing."""

    hits: Annotated[list[ReflectionHit], _items(ReflectionHit)]


class Updated(BaseModel):
    """The intervention after its outcome was set."""

    id: str
    outcome: OutcomeOut
    updated_at: datetime | None


class WorkedHit(BaseModel):
    """A past intervention and why it ranks here: ``score`` is
    ``max(similarity, 0) * outcome_weight * recency``.
    """

    id: str
    text: str
    task: str
    context: str
    outcome: OutcomeOut
    created_at: datetime
    similarity: float
    outcome_weight: float
    recency: float
    score: float


class Rate(BaseModel):
    """How the matching interventions of one task turned out."""

    task: str
    summary: str = Field(description="e.g. 'calm_down: 4 of 5 completed'.")
    completed: int
    total: int
    by_outcome: dict[str, int]


class Worked(_Found):
    """What worked, best first, and each task's outcome rates among all the matches."""

    hits: Annotated[list[WorkedHit], _items(WorkedHit)]
    rates: Annotated[list[Rate], _items(Rate)]


class Forgotten(BaseModel):
    """How many memories were deleted (0 while ``deferred``)."""

    deleted: int


F = TypeVar("F", InterventionsFound, ReflectionsFound)


def interventions_found(results: SearchResults[Intervention]) -> InterventionsFound:
    """The answer of ``search_interventions``."""
    return _found(results, InterventionsFound, _intervention_hit)


def reflections_found(results: SearchResults[Reflection]) -> ReflectionsFound:
    """The answer of ``search_reflections``."""
    return _found(results, ReflectionsFound, _reflection_hit)


def updated(record: Intervention) -> Updated:
    """The answer of ``update_outcome``."""
    return Updated(id=record.id, outcome=record.outcome, updated_at=record.updated_at)


def worked(answer: WhatWorked) -> Worked:
    """The answer of ``what_worked``."""
    hits = [
        WorkedHit(
            id=hit.record.id,
            text=hit.record.intervention_text,
            task=hit.record.task,
            context=hit.record.context,
            outcome=hit.record.outcome,
            created_at=hit.record.created_at,
            similarity=hit.similarity,
            outcome_weight=hit.outcome_weight,
            recency=hit.recency,
            score=hit.score,
        )
        for hit in answer.hits
    ]
    rates = [Rate.model_validate(rate.as_dict()) for rate in answer.rates]
    return Worked.model_validate(
        {
            "status": answer.status,
            "complete": answer.status is Status.COMPLETE,
            "hits": hits,
            "rates": rates,
        }
    )


def _found(
    results: SearchResults[Any], found: type[F], hit: Callable[[Any, float], BaseModel]
) -> F:
    hits = [hit(each.record, each.score) for each in results]
    return found.model_validate(
        {"status": results.status, "complete": results.complete, "hits": hits}
    )


def _intervention_hit(record: Intervention, score: float) -> InterventionHit:
    return InterventionHit(
        id=record.id,
        score=score,
        text=record.intervention_text,
        task=record.task,
        context=record.context,
        outcome=record.outcome,
        created_at=record.created_at,
    )


def _reflection_hit(record: Reflection, score: float) -> ReflectionHit:
    return ReflectionHit(
        id=record.id,
        score=score,
        text=record.text,
        source_ids=list(record.source_ids),
        created_at=record.created_at,
    )
