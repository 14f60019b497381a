"""The service calls on reflections: record one, search them.

:class:`ReflectionCalls` is a part of :class:`~memcore.MemoryService` (its base class).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from memcore.domain import (
    MetadataValue,
    Receipt,
    RecordKind,
    Reflection,
    SearchFilter,
    SearchResults,
)
from memcore.intake import reflection_from
from memcore.observability.operations import observed
from memcore.pipeline import Result
from memcore.validation import Limits, validate_user_id

__all__ = ["ReflectionCalls"]


class ReflectionCalls:
    """``record_reflection`` and ``search_reflections`` of :class:`~memcore.MemoryService`."""

    # What the service provides.
    limits: Limits
    _record: Callable[..., Awaitable[Any]]
    _find: Callable[..., Awaitable[Result[Any]]]
    _expiring: Callable[..., Any]

    @observed("record_reflection")
    async def record_reflection(
        self,
        user_id: str,
        text: str,
        *,
        source_ids: Sequence[str] = (),
        metadata: Mapping[str, MetadataValue] | None = None,
        created_at: datetime | None = None,
        id: str | None = None,  # noqa: A002
        idempotency_key: str | None = None,
        embedding: object = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        ttl: float | timedelta | None = None,
    ) -> Receipt[Reflection]:
        """Store one reflection drawn from the interventions ``source_ids``; see
        :meth:`record_intervention` for the scopes, ``ttl`` and the receipt.
        """
        user_id = validate_user_id(user_id)
        record = reflection_from(
            user_id,
            text,
            source_ids=source_ids,
            metadata=metadata,
            created_at=created_at,
            given_id=id,
            idempotency_key=idempotency_key,
            scope=(agent_id, session_id),
            limits=self.limits,
        )
        receipt: Receipt[Reflection] = await self._record(
            user_id, [self._expiring(record, ttl)], embedding
        )
        return receipt

    @observed("search_reflections")
    async def search_reflections(
        self,
        user_id: str,
        query: str | object,
        k: int = 5,
        filters: SearchFilter | Mapping[str, Any] | None = None,
    ) -> SearchResults[Reflection]:
        """The ``k`` reflections of ``user_id`` most similar to ``query``, best first."""
        hits = (await self._find(user_id, query, k, filters, RecordKind.REFLECTION)).value
        return cast("SearchResults[Reflection]", hits)
