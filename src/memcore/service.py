"""MemoryService: the use cases an agent calls.

Every call validates its input first (so a bad input stores nothing), embeds what needs
embedding in one batch, and makes one store call. A record is searchable as soon as the
call that wrote it returns. Each public call is logged once on ``memcore.service`` and
counted in the service's :class:`~memcore.observability.Telemetry` (see
:mod:`memcore.observability.operations`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar, cast

import numpy as np
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
    Status,
    new_id,
    utcnow,
)
from memcore.errors import EmbeddingError, NotFoundError, UnhealthyError, ValidationError
from memcore.observability.health import cache_check, guarded_check, health_to_dict, schema_check
from memcore.observability.operations import Telemetry, observed
from memcore.ports import Embedder, MemoryStore, Vectors
from memcore.resilience.degrade import note_degraded, track_degradation
from memcore.resilience.ratelimit import RateLimits
from memcore.validation import (
    DEFAULT_LIMITS,
    Limits,
    validate_batch_size,
    validate_embeddings,
    validate_filters,
    validate_intervention,
    validate_k,
    validate_outcome,
    validate_record_id,
    validate_record_ids,
    validate_reflection,
    validate_text,
    validate_user_id,
)

RecordT = TypeVar("RecordT", Intervention, Reflection)

_INTERVENTION_FIELDS = frozenset(
    {
        "intervention_text",
        "task",
        "context",
        "outcome",
        "metadata",
        "created_at",
        "id",
        "idempotency_key",
    }
)
MAX_LIST_LIMIT = 1_000

HealthOnStart = Literal["off", "warn", "fail"]

logger = logging.getLogger("memcore.service")


class MemoryService:
    """Record and recall a user's interventions and reflections.

    Build it with :func:`memcore.connect` (from settings), or by hand from any
    :class:`~memcore.ports.MemoryStore` and :class:`~memcore.ports.Embedder`; the service
    then owns both and closes them in :meth:`aclose`. Call :meth:`start` (``connect``
    does) before anything else: it checks the store's schema against the embedder and,
    with ``check_on_start`` ``"warn"`` or ``"fail"``, runs :meth:`health` (``fail``
    raises :class:`~memcore.errors.UnhealthyError` on an unhealthy report).

    With ``rate_limits``, each call takes a token of its user and of the global bucket
    before it embeds or stores anything, or raises
    :class:`~memcore.errors.RateLimitedError`. With ``degrade_searches``, a search whose
    query cannot be embedded right now (a retryable embedder error) returns empty
    results flagged ``degraded`` instead of raising.
    """

    def __init__(
        self,
        store: MemoryStore,
        embedder: Embedder,
        *,
        limits: Limits = DEFAULT_LIMITS,
        telemetry: Telemetry | None = None,
        check_on_start: HealthOnStart = "off",
        rate_limits: RateLimits | None = None,
        degrade_searches: bool = False,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.limits = limits
        self.telemetry = telemetry or Telemetry()
        self.check_on_start = check_on_start
        self.rate_limits = rate_limits
        self.degrade_searches = degrade_searches
        self._started = False

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
        """Check (or create) the store's schema for this embedder. Idempotent."""
        if self._started:
            return
        await self.store.ensure_schema(self.schema)
        self._started = True
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
        """Close the store, the embedder and the rate limiter."""
        await self.store.aclose()
        await self.embedder.aclose()
        if self.rate_limits is not None:
            await self.rate_limits.aclose()

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
        embedding: Vectors | None = None,
    ) -> Receipt[Intervention]:
        """Store one intervention; the receipt holds it (with its id) and its status.

        ``id`` or ``idempotency_key`` make the write idempotent: a retry lands on the same
        record. ``embedding`` skips the embedder (it must match its dimension). The status
        is ``stored``, or ``deferred`` when the store was unavailable and the write waits
        in the outbox.
        """
        record = self._intervention(
            user_id,
            {
                "intervention_text": intervention_text,
                "task": task,
                "context": context,
                "outcome": outcome,
                "metadata": metadata,
                "created_at": created_at,
                "id": id,
                "idempotency_key": idempotency_key,
            },
        )
        return await self._write(user_id, [record], embedding)

    @observed("record_interventions")
    async def record_interventions(
        self,
        user_id: str,
        items: Sequence[Mapping[str, Any]],
        *,
        embeddings: Vectors | None = None,
    ) -> Receipt[Intervention]:
        """Store many interventions of one user with one embed call and one store call.

        Each item is a mapping with the keyword arguments of :meth:`record_intervention`.
        Every item is validated before anything is written: one bad item stores nothing.
        """
        user_id = validate_user_id(user_id)
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
            raise ValidationError("items", "must be a list of intervention mappings")
        validate_batch_size(len(items), self.limits)
        records = [self._intervention(user_id, item, f"items[{i}]") for i, item in enumerate(items)]
        return await self._write(user_id, records, embeddings)

    @observed("search_interventions")
    async def search_interventions(
        self,
        user_id: str,
        query: str | Vectors,
        k: int = 5,
        filters: SearchFilter | Mapping[str, Any] | None = None,
    ) -> SearchResults[Intervention]:
        """The ``k`` interventions of ``user_id`` most similar to ``query``, best first.

        ``query`` is a text (embedded here) or a precomputed embedding. ``filters`` narrows
        by outcome, task, time or metadata (see :class:`~memcore.SearchFilter`). The
        result is a list; its ``degraded`` flag says the store could not fully answer.
        """
        hits = await self._search(user_id, query, k, filters, RecordKind.INTERVENTION)
        return cast("SearchResults[Intervention]", hits)

    # -- reflections ---------------------------------------------------------------------

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
        embedding: Vectors | None = None,
    ) -> Receipt[Reflection]:
        """Store one reflection drawn from the interventions ``source_ids``; see
        :meth:`record_intervention` for the receipt.
        """
        user_id = validate_user_id(user_id)
        validate_text(text, "text", self.limits.max_text_chars)
        record = validate_reflection(
            Reflection(
                id=self._record_id(id, idempotency_key),
                user_id=user_id,
                text=text,
                source_ids=tuple(validate_record_ids(source_ids, "source_ids")),
                created_at=utcnow() if created_at is None else created_at,
                metadata={} if metadata is None else metadata,
            ),
            self.limits,
        )
        return await self._write(user_id, [record], embedding)

    @observed("search_reflections")
    async def search_reflections(
        self,
        user_id: str,
        query: str | Vectors,
        k: int = 5,
        filters: SearchFilter | Mapping[str, Any] | None = None,
    ) -> SearchResults[Reflection]:
        """The ``k`` reflections of ``user_id`` most similar to ``query``, best first."""
        hits = await self._search(user_id, query, k, filters, RecordKind.REFLECTION)
        return cast("SearchResults[Reflection]", hits)

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
        await self._admit(user_id, "get")
        return await self.store.get(user_id, ids)

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
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_LIST_LIMIT
        ):
            raise ValidationError("limit", f"must be an integer between 1 and {MAX_LIST_LIMIT}")
        if cursor is not None and not isinstance(cursor, str):
            raise ValidationError("cursor", "must be a string returned as next_cursor")
        checked = validate_filters(filters, self.limits)
        await self._admit(user_id, "list")
        return await self.store.list(user_id, checked, limit, cursor)

    @observed("delete", ids_arg="record_ids")
    async def delete(self, user_id: str, record_ids: str | Sequence[str]) -> int:
        """Delete records of ``user_id``; returns how many existed. Missing ids are fine."""
        user_id = validate_user_id(user_id)
        ids = validate_record_ids([record_ids] if isinstance(record_ids, str) else record_ids)
        await self._admit(user_id, "delete")
        return await self.store.delete(user_id, ids)

    @observed("forget_user")
    async def forget_user(self, user_id: str) -> int:
        """Delete everything of ``user_id``; returns how many records there were."""
        user_id = validate_user_id(user_id)
        await self._admit(user_id, "forget_user")
        return await self.store.forget_user(user_id)

    @observed("stats")
    async def stats(self, user_id: str) -> MemoryStats:
        """Counts of ``user_id``'s memories by kind and by intervention outcome."""
        user_id = validate_user_id(user_id)
        await self._admit(user_id, "stats")
        count = self.store.count
        interventions, reflections, *outcomes = await asyncio.gather(
            count(user_id, SearchFilter(kind=RecordKind.INTERVENTION)),
            count(user_id, SearchFilter(kind=RecordKind.REFLECTION)),
            *(count(user_id, SearchFilter(outcomes=frozenset({o}))) for o in Outcome),
        )
        return MemoryStats(
            user_id=user_id,
            interventions=interventions,
            reflections=reflections,
            by_outcome={o.value: n for o, n in zip(Outcome, outcomes, strict=True) if n},
        )

    async def health(self) -> HealthReport:
        """Check the store, the embedder, their schema match and the cache, if any.

        The report's status is the worst of its checks; it never raises for a sick part.
        """
        store, embedder = await asyncio.gather(
            guarded_check("store", self.store.health()),
            guarded_check("embedder", self.embedder.health()),
        )
        checks = [store, embedder, schema_check(self.schema, started=self._started, store=store)]
        cache = cache_check(self.embedder)
        if cache is not None:
            checks.append(cache)
        report = HealthReport.of(tuple(checks))
        if self.telemetry.metrics is not None:
            self.telemetry.metrics.record_health(report)
        logger.debug("health %s", report.status.value, extra={"status": report.status.value})
        return report

    # -- internals -------------------------------------------------------------------------

    async def _admit(self, user_id: str, operation: str) -> None:
        if self.rate_limits is not None:
            await self.rate_limits.check(user_id, operation)

    def _record_id(self, record_id: str | None, idempotency_key: str | None) -> str:
        if record_id is not None:
            if idempotency_key is not None:
                raise ValidationError("idempotency_key", "give id or idempotency_key, not both")
            return validate_record_id(record_id)
        if idempotency_key is not None:
            validate_text(idempotency_key, "idempotency_key", 1_024)
        return new_id(idempotency_key)

    def _intervention(self, user_id: str, item: Mapping[str, Any], field: str = "") -> Intervention:
        # user_id is checked once, with every other field, by validate_intervention below.
        if not isinstance(item, Mapping):
            raise ValidationError(field or "item", "must be a mapping of intervention fields")
        unknown = sorted(set(item) - _INTERVENTION_FIELDS)
        if unknown:
            raise ValidationError(f"{field}.{unknown[0]}".lstrip("."), "unknown intervention field")
        try:
            record = Intervention(
                id=self._record_id(item.get("id"), item.get("idempotency_key")),
                user_id=user_id,
                intervention_text=item["intervention_text"],
                task=item["task"],
                context=item.get("context", ""),
                outcome=validate_outcome(item.get("outcome", Outcome.UNKNOWN)),
                created_at=utcnow() if item.get("created_at") is None else item["created_at"],
                metadata=_metadata_arg(item.get("metadata")),
            )
        except KeyError as missing:
            raise ValidationError(f"{field}.{missing.args[0]}".lstrip("."), "is required") from None
        return validate_intervention(record, self.limits)

    async def _write(
        self, user_id: str, records: Sequence[RecordT], embeddings: Vectors | None
    ) -> Receipt[RecordT]:
        await self._admit(user_id, "write")
        if embeddings is None:
            vectors = await self._embed([record.embedding_text() for record in records])
        else:
            vectors = validate_embeddings(embeddings, len(records), self.embedder.dimension)
        with track_degradation() as status:
            await self.store.upsert(user_id, records, vectors)
        return Receipt(tuple(records), Status.DEFERRED if status.deferred else Status.STORED)

    async def _search(
        self,
        user_id: str,
        query: str | Vectors,
        k: int,
        filters: SearchFilter | Mapping[str, Any] | None,
        kind: RecordKind,
    ) -> SearchResults[MemoryRecord]:
        user_id = validate_user_id(user_id)
        k = validate_k(k, self.limits)
        narrowed = validate_filters(filters, self.limits).with_kind(kind)
        await self._admit(user_id, "search")
        if isinstance(query, str):
            validate_text(query, "query", self.limits.max_text_chars)
            try:
                vector = (await self._embed([query]))[0]
            except EmbeddingError as exc:
                if not (self.degrade_searches and exc.retryable):
                    raise
                note_degraded()  # the embedder is away: an empty answer beats silence
                return SearchResults(status=Status.DEGRADED)
        else:
            vector = validate_embeddings(query, 1, self.embedder.dimension)[0]
        with track_degradation() as status:
            hits = await self.store.search(user_id, vector, k, narrowed)
        return SearchResults(hits, status=Status.DEGRADED if status.degraded else Status.COMPLETE)

    async def _embed(self, texts: Sequence[str]) -> Vectors:
        vectors = await self.embedder.embed(texts)
        expected = (len(texts), self.embedder.dimension)
        if (
            vectors.shape != expected
            or vectors.dtype != np.float32
            or not np.isfinite(vectors).all()
        ):
            raise EmbeddingError(
                f"embedder returned {vectors.dtype} {vectors.shape}, "
                f"expected finite float32 {expected}",
                operation="embed",
                backend=self.embedder.backend,
            )
        return vectors


def _metadata_arg(metadata: object) -> Mapping[str, MetadataValue]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ValidationError("metadata", f"must be a mapping, not {type(metadata).__name__}")
    return metadata
