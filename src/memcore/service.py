"""MemoryService: the use cases an agent calls.

Every call validates its input first (so a bad input stores nothing), then runs as a
:class:`~memcore.pipeline.Call` through the pipeline: the service's policies (rate
limits), then the use case, which embeds what needs embedding in one batch through the
embedder's chain and makes one call through the store's chain. Each result says what
became of the call (a :class:`~memcore.Receipt` for writes, a status on reads). A
record is searchable as soon as the call that stored it returns. Each public call is
logged once on ``memcore.service`` and counted (:mod:`memcore.observability.operations`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar, cast

from typing_extensions import Self

from memcore.domain import (
    EmbeddingSchema,
    HealthReport,
    HealthStatus,
    Intervention,
    MemoryRecord,
    MemoryStats,
    MetadataValue,
    Outcome,
    Page,
    Receipt,
    RecordKind,
    Reflection,
    SearchFilter,
    SearchResults,
)
from memcore.errors import NotFoundError, UnhealthyError
from memcore.intake import intervention_from, interventions_from
from memcore.lifecycle import LifecycleCalls
from memcore.lifecycle_settings import (
    DuplicatePolicy,
    DuplicateSettings,
    RetentionSettings,
    WhatWorkedSettings,
)
from memcore.observability.health import guarded_check, health_to_dict, schema_check
from memcore.observability.operations import Telemetry, observed
from memcore.pipeline import Call, Pipeline, Policy, Result
from memcore.ports import Embedder, MemoryStore
from memcore.reflections import ReflectionCalls
from memcore.usecases import Duplicates, UseCases
from memcore.validation import (
    DEFAULT_LIMITS,
    Limits,
    unit_vector,
    unit_vectors,
    validate_filters,
    validate_k,
    validate_page,
    validate_record_ids,
    validate_score,
    validate_text,
    validate_user_id,
)

RecordT = TypeVar("RecordT", Intervention, Reflection)

MAX_LIST_LIMIT = 1_000

HealthOnStart = Literal["off", "warn", "fail"]

logger = logging.getLogger("memcore.service")

_Work = Callable[[Call], Awaitable[Result[Any]]]


class MemoryService(LifecycleCalls, ReflectionCalls):
    """Record and recall a user's interventions and reflections, and update them.

    Build it with :func:`memcore.connect` (from settings), or by hand from any
    :class:`~memcore.ports.MemoryStore` and :class:`~memcore.ports.Embedder` and the
    ``policies`` to run around them (outermost first; none by default); the service then
    owns them all and closes them in :meth:`aclose`. Call :meth:`start` (``connect``
    does) before anything else: it prepares the store's schema for the embedder and,
    with ``check_on_start`` ``"warn"`` or ``"fail"``, runs :meth:`health` (``fail``
    raises :class:`~memcore.errors.UnhealthyError` on an unhealthy report).

    ``deadline`` (seconds) bounds each operation: no retry starts after it. With
    ``degrade_searches``, a search whose query cannot be embedded right now (a retryable
    embedder error) returns empty results with status ``degraded`` instead of raising.
    ``what_worked`` sets how :meth:`what_worked` ranks, ``duplicates`` what recording a
    duplicate intervention does, ``retention`` how long records are kept by default.
    """

    def __init__(
        self,
        store: MemoryStore,
        embedder: Embedder,
        *,
        policies: Sequence[Policy] = (),
        limits: Limits = DEFAULT_LIMITS,
        telemetry: Telemetry | None = None,
        check_on_start: HealthOnStart = "off",
        deadline: float | None = None,
        degrade_searches: bool = False,
        what_worked: WhatWorkedSettings | None = None,
        duplicates: DuplicateSettings | None = None,
        retention: RetentionSettings | None = None,
    ) -> None:
        self.pipeline = Pipeline(policies)
        self.what_worked_settings = what_worked or WhatWorkedSettings()
        self.duplicate_settings = duplicates or DuplicateSettings()
        self.retention = retention or RetentionSettings()
        self.store = self.pipeline.store(store)
        self.embedder = self.pipeline.embedder(embedder)
        self.limits = limits
        self.telemetry = telemetry or Telemetry()
        self.check_on_start = check_on_start
        self.deadline = deadline
        self._started = False
        refresh = self.retention.retention_of if self.retention.refresh_on_read else None
        cases = UseCases(
            self.store, self.embedder, degrade_searches=degrade_searches, refresh=refresh
        )
        self._operations = self.pipeline.chains(
            "service", {operation: cases.handler(operation) for operation in cases.operations}
        )

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def schema(self) -> EmbeddingSchema:
        """The embedding schema this service writes: the embedder's dimension and model."""
        return EmbeddingSchema(dimension=self.embedder.dimension, model=self.embedder.model)

    @observed("start")
    async def start(self) -> None:
        """Prepare the store's schema for this embedder and start the policies. Idempotent.

        With the store away and degradation on, the schema is ensured later, in the
        background, and reads answer ``degraded`` meanwhile (``health`` says so).
        """
        if self._started:
            return
        await self.store.ensure_schema(self.schema)
        self._started = True
        await self.pipeline.start()
        if self.check_on_start == "off":
            return
        report = await self.health()
        if report.status is not HealthStatus.UNHEALTHY:
            return
        sick = tuple(c.component for c in report.checks if c.status is HealthStatus.UNHEALTHY)
        if self.check_on_start == "fail":
            raise UnhealthyError(
                f"unhealthy at start: {', '.join(sick)}",
                components=sick,
                operation="start",
                backend=self.store.backend,
            )
        logger.warning(
            "unhealthy at start: %s", ", ".join(sick), extra={"health": health_to_dict(report)}
        )

    async def aclose(self) -> None:
        """Close the store (after a last replay of deferred writes), the embedder and the
        policies.
        """
        try:
            await self.store.aclose()
        finally:
            try:
                await self.embedder.aclose()
            finally:
                await self.pipeline.aclose("service")

    # -- interventions -------------------------------------------------------------------

    @observed("record_intervention")
    async def record_intervention(
        self,
        user_id: str,
        intervention_text: str,
        *,
        task: str,
        context: str = "",
        outcome: Outcome | str = Outcome.UNKNOWN,
        metadata: Mapping[str, MetadataValue] | None = None,
        created_at: datetime | None = None,
        id: str | None = None,  # noqa: A002 - the record's id, named as on the record
        idempotency_key: str | None = None,
        embedding: object = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        on_duplicate: DuplicatePolicy | None = None,
        ttl: float | timedelta | None = None,
    ) -> Receipt[Intervention]:
        """Store one intervention; the receipt holds it (with its id) and its status.

        ``id`` or ``idempotency_key`` make the write idempotent: a retry lands on the same
        record. ``embedding`` skips the embedder (it must match its dimension).
        ``agent_id`` and ``session_id`` scope it within the user (filter on them).
        ``on_duplicate`` (default: ``MEMCORE_DUPLICATES__POLICY``) ``skip`` or ``merge``
        returns the duplicate already stored instead (merged: seen once more). ``ttl``
        (seconds or a timedelta) sets ``expires_at`` (default: ``MEMCORE_RETENTION__*``).
        The status
        is ``stored``, or ``deferred`` when the store was unavailable and the write waits
        in the outbox.
        """
        user_id = validate_user_id(user_id)
        fields = {
            "intervention_text": intervention_text,
            "task": task,
            "context": context,
            "outcome": outcome,
            "metadata": metadata,
            "created_at": created_at,
            "id": id,
            "idempotency_key": idempotency_key,
            "agent_id": agent_id,
            "session_id": session_id,
        }
        duplicates = self._duplicates(user_id, on_duplicate, fields)
        record = self._expiring(intervention_from(user_id, fields, self.limits), ttl)
        return await self._record(user_id, [record], embedding, duplicates)

    @observed("record_interventions")
    async def record_interventions(
        self, user_id: str, items: Sequence[Mapping[str, Any]], *, embeddings: object = None
    ) -> Receipt[Intervention]:
        """Store many interventions of one user with one embed call and one store call.

        Each item is a mapping with the keyword arguments of :meth:`record_intervention`.
        Every item is validated before anything is written: one bad item stores nothing,
        and its error names it (``items[2].task``).
        """
        user_id = validate_user_id(user_id)
        records = [self._expiring(r, None) for r in interventions_from(user_id, items, self.limits)]
        return await self._record(user_id, records, embeddings)

    @observed("search_interventions")
    async def search_interventions(
        self,
        user_id: str,
        query: str | object,
        k: int = 5,
        filters: SearchFilter | Mapping[str, Any] | None = None,
        *,
        min_score: float | None = None,
    ) -> SearchResults[Intervention]:
        """The ``k`` interventions of ``user_id`` most similar to ``query``, best first.

        ``query`` is a text (embedded here) or a precomputed embedding. ``filters`` narrows
        by outcome, task, time or metadata (see :class:`~memcore.SearchFilter`);
        ``min_score`` leaves out hits less similar than that (a cosine similarity). The
        result is a list; its ``status`` says whether it may be incomplete.
        """
        hits = (await self._find(user_id, query, k, filters, RecordKind.INTERVENTION)).value
        if min_score is not None:
            bound = validate_score(min_score, "min_score")
            hits = SearchResults([h for h in hits if h.score >= bound], status=hits.status)
        return cast("SearchResults[Intervention]", hits)

    # -- reading and forgetting ------------------------------------------------------------

    @observed("get", ids_arg="record_id")
    async def get(self, user_id: str, record_id: str) -> MemoryRecord:
        """The record ``record_id`` of ``user_id``; raises :class:`NotFoundError` if absent."""
        found = await self._get_many(user_id, [record_id])
        if not found:
            raise NotFoundError(
                f"no record {record_id!r}",
                operation="get",
                backend=self.store.backend,
                user_id=user_id,
            )
        return found[0]

    @observed("get_many", ids_arg="record_ids")
    async def get_many(self, user_id: str, record_ids: Sequence[str]) -> list[MemoryRecord]:
        """The records of ``user_id`` among ``record_ids``, in that order; missing ones left out."""
        return await self._get_many(user_id, record_ids)

    async def _get_many(self, user_id: str, record_ids: Sequence[str]) -> list[MemoryRecord]:
        user_id = validate_user_id(user_id)
        ids = validate_record_ids(record_ids)
        found: list[MemoryRecord] = (await self._serve("get", user_id, ids=ids)).value
        return found

    @observed("list")
    async def list(
        self,
        user_id: str,
        *,
        filters: SearchFilter | Mapping[str, Any] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[MemoryRecord]:
        """One page of ``user_id``'s records, oldest first; follow ``next_cursor`` for more."""
        user_id = validate_user_id(user_id)
        validate_page(limit, cursor, MAX_LIST_LIMIT)
        checked = validate_filters(filters, self.limits)
        page: Page[MemoryRecord] = (
            await self._serve("list", user_id, filters=checked, limit=limit, cursor=cursor)
        ).value
        return page

    @observed("stats")
    async def stats(self, user_id: str) -> MemoryStats:
        """Counts of ``user_id``'s memories by kind and by intervention outcome."""
        user_id = validate_user_id(user_id)
        stats: MemoryStats = (await self._serve("stats", user_id)).value
        return stats

    async def health(self) -> HealthReport:
        """Check the store, the embedder and their schema match.

        The report's status is the worst of its checks; it never raises for a sick part.
        """
        store, embedder = await asyncio.gather(
            guarded_check("store", self.store.health()),
            guarded_check("embedder", self.embedder.health()),
        )
        schema = schema_check(self.schema, started=self._started, store=store)
        report = HealthReport.of((store, embedder, schema))
        if self.telemetry.metrics is not None:
            self.telemetry.metrics.record_health(report)
        logger.debug("health %s", report.status.value, extra={"status": report.status.value})
        return report

    # -- the use cases, behind the service's policies ---------------------------------------

    def _serve(self, operation: str, user_id: str, **args: Any) -> Awaitable[Result[Any]]:
        """The service call ``operation`` through the service's chain (to be awaited)."""
        deadline = None if self.deadline is None else time.monotonic() + self.deadline
        return self._operations[operation](Call("service", operation, user_id, args, deadline))

    async def _record(
        self,
        user_id: str,
        records: Sequence[RecordT],
        embeddings: object,
        duplicates: Duplicates | None = None,
    ) -> Receipt[RecordT]:
        vectors = None
        if embeddings is not None:
            vectors = unit_vectors(embeddings, len(records), self.embedder.dimension)
        receipt: Receipt[RecordT] = (
            await self._serve(
                "write", user_id, records=records, vectors=vectors, duplicates=duplicates
            )
        ).value
        return receipt

    def _find(
        self,
        user_id: str,
        query: object,
        k: int,
        filters: SearchFilter | Mapping[str, Any] | None,
        kind: RecordKind,
    ) -> Awaitable[Result[SearchResults[MemoryRecord]]]:
        """The search, validated, through the service's chain (to be awaited)."""
        user_id = validate_user_id(user_id)
        k = validate_k(k, self.limits)
        narrowed = validate_filters(filters, self.limits, kind=kind)
        if isinstance(query, str):
            validate_text(query, "query", self.limits.max_text_chars)
        else:
            query = unit_vector(query, self.embedder.dimension)
        return self._serve("search", user_id, query=query, k=k, filters=narrowed)
