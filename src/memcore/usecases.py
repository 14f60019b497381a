"""What each service operation does with the ports, once its input is valid.

:class:`UseCases` is the end of the service's chain: each method takes the validated
:class:`~memcore.pipeline.Call` and runs the store and embedder calls it needs through
their chains, passing the operation's deadline on. Its result carries the status of
what happened (a :class:`~memcore.Receipt` for writes, a status on every read).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from memcore.domain import (
    Intervention,
    MemoryRecord,
    MemoryStats,
    Outcome,
    Page,
    Receipt,
    RecordKind,
    RecordUpdate,
    Removed,
    SearchFilter,
    SearchResults,
    Status,
    utcnow,
)
from memcore.domain.worked import WhatWorked, rank_worked
from memcore.errors import (
    ConflictError,
    EmbeddingError,
    NotFoundError,
    StoreUnavailableError,
    ValidationError,
)
from memcore.pipeline import Call, EmbedderFront, Result, StoreFront
from memcore.ports import UnitVectors
from memcore.validation import unit_vectors

__all__ = ["TEXT_FIELDS", "Duplicates", "UseCases"]

TEXT_FIELDS: Mapping[RecordKind, str] = {
    RecordKind.INTERVENTION: "intervention_text",
    RecordKind.REFLECTION: "text",
}
"""The field an update's ``text`` sets, per kind."""
_EMBEDDED_CHANGES = frozenset({"text", "task", "context"})
_UPDATE_ATTEMPTS = 5  # guarded read-embed-write rounds before a ConflictError
_READ_RECORDS: Mapping[str, Callable[[Any], Sequence[MemoryRecord]]] = {
    "get": list,
    "search": lambda hits: [hit.record for hit in hits],
    "what_worked": lambda worked: [hit.record for hit in worked.hits],
}
"""The reads whose records ``refresh_on_read`` refreshes, and how to find them."""
_FORGET_BATCH = 500
_DUPLICATE_CANDIDATES = 5  # nearest of the task, to find one of the same scope


@dataclass(frozen=True)
class Duplicates:
    """How a write treats a duplicate: ``skip`` or ``merge`` it from ``threshold`` on."""

    policy: str
    threshold: float
    history_limit: int


class UseCases:
    """The service's operations over its ``store`` and ``embedder`` fronts.

    With ``degrade_searches``, a search whose query cannot be embedded right now (a
    retryable embedder error) answers empty, ``degraded``, instead of raising.
    """

    def __init__(
        self,
        store: StoreFront,
        embedder: EmbedderFront,
        *,
        degrade_searches: bool = False,
        refresh: Callable[[RecordKind], timedelta | None] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.degrade_searches = degrade_searches
        self.refresh = refresh
        self.operations: Mapping[str, Callable[[Call], Awaitable[Result[Any]]]] = {
            "write": self.write,
            "search": self.search,
            "get": self.get,
            "list": self.list,
            "delete": self.delete,
            "forget_user": self.forget_user,
            "stats": self.stats,
            "update": self.update,
            "forget": self.forget,
            "what_worked": self.what_worked,
        }

    def handler(self, operation: str) -> Callable[[Call], Awaitable[Result[Any]]]:
        """What runs the service operation ``operation``: its method, or :meth:`run` when
        its records' expiry is refreshed after it.
        """
        if self.refresh is not None and operation in _READ_RECORDS:
            return self.run
        return self.operations[operation]

    async def run(self, call: Call) -> Result[Any]:
        """Perform the service operation ``call`` names (then, with ``refresh``, move the
        expiry of the records a read returned).
        """
        result = await self.operations[call.operation](call)
        if self.refresh is not None and call.operation in _READ_RECORDS:
            await self._refresh(call, _READ_RECORDS[call.operation](result.value))
        return result

    async def _refresh(self, call: Call, records: Sequence[MemoryRecord]) -> None:
        """Let each expiring record of ``records`` expire its kind's retention from now."""
        assert self.refresh is not None  # noqa: S101 - run checked it
        now = utcnow()
        updates = []
        for record in records:
            retention = self.refresh(record.kind)
            if record.expires_at is not None and retention is not None:
                values = {"expires_at": now + retention}
                update = RecordUpdate(record.id, record.kind, values, now, 1, stamp=False)
                updates.append(
                    self.store.run(call.on("store", "update", update=update, vector=None))
                )
        await asyncio.gather(*updates)

    async def write(self, call: Call) -> Result[Receipt[MemoryRecord]]:
        records: Sequence[MemoryRecord] = call.args["records"]
        vectors = call.args["vectors"]
        if vectors is None:
            vectors = await self._embed_texts(call, [record.embedding_text() for record in records])
        duplicates = call.args.get("duplicates")
        if duplicates is not None:
            kept = await self._duplicate(call, records[0], vectors[0], duplicates)
            if kept is not None:
                return kept
        stored = await self.store.run(call.on("store", "upsert", records=records, vectors=vectors))
        return Result(Receipt(tuple(records), stored.status), stored.status)

    async def _duplicate(
        self, call: Call, record: MemoryRecord, vector: Any, duplicates: Duplicates
    ) -> Result[Receipt[MemoryRecord]] | None:
        """The receipt of the duplicate ``record`` has among the user's interventions of its
        task and scope (skipped for it, or merged: seen once more), or ``None``: none.
        """
        assert isinstance(record, Intervention)  # noqa: S101 - only interventions come here
        scope = (record.agent_id, record.session_id)
        filters = SearchFilter(
            kind=RecordKind.INTERVENTION, task=record.task, agent_id=scope[0], session_id=scope[1]
        )
        found = await self.store.run(
            call.on("store", "search", vector=vector, k=_DUPLICATE_CANDIDATES, filters=filters)
        )
        same_scope = (
            hit.record
            for hit in found.value
            if hit.score >= duplicates.threshold
            and (hit.record.agent_id, hit.record.session_id) == scope
        )
        existing = next(same_scope, None)
        if existing is not None and duplicates.policy == "skip":
            return Result(Receipt((existing,), Status.STORED), Status.STORED)
        if existing is None and (duplicates.policy == "skip" or found.status is Status.DEGRADED):
            # Nothing to skip for, or the store is away: a plain write, which can wait in
            # the outbox. (A merge after a partial search goes on: the store is there.)
            return None
        # None found: store this one, unless a concurrent write of it came first (the same
        # content has the same id); then that one is seen once more.
        update = RecordUpdate(
            record.id if existing is None else existing.id,
            RecordKind.INTERVENTION,
            {},
            utcnow(),
            duplicates.history_limit,
            seen_again=True,
            create=record if existing is None else None,
        )
        merged = await self.store.run(
            call.on("store", "update", update=update, vector=None if existing else vector[None])
        )
        if merged.value is None:  # deleted meanwhile: store this one
            return None
        return Result(Receipt((merged.value,), merged.status), merged.status)

    async def search(self, call: Call) -> Result[SearchResults[MemoryRecord]]:
        query = call.args["query"]
        if isinstance(query, str):
            try:
                query = (await self._embed_texts(call, [query]))[0]
            except EmbeddingError as exc:
                if not (self.degrade_searches and exc.retryable):
                    raise
                # The embedder is away: an empty answer beats silence.
                return Result(SearchResults(status=Status.DEGRADED), Status.DEGRADED)
        found = await self.store.run(
            call.on("store", "search", vector=query, k=call.args["k"], filters=call.args["filters"])
        )
        return Result(SearchResults(found.value, status=found.status), found.status)

    async def get(self, call: Call) -> Result[Any]:
        return await self.store.run(call.on("store", "get", **call.args))

    async def update(self, call: Call) -> Result[MemoryRecord]:
        """Change fields of one record; embed it again only when embedded text changes.

        Without such a change it is one store call, applied by the store atomically. With
        one, the record is read, embedded with its new text, and written only if no other
        update came in between (else read again, up to a few times). Either way the store
        checks the record's kind and scope as it writes.
        """
        values: dict[str, Any] = dict(call.args["values"])
        if not _EMBEDDED_CHANGES & values.keys():
            update = self._update(call, call.args["kind"], values)
            return await self._apply(call, update, None)
        for _ in range(_UPDATE_ATTEMPTS):
            found = await self.store.run(call.on("store", "get", ids=[call.args["record_id"]]))
            record: MemoryRecord | None = next(iter(found.value), None)
            if record is None or not self._update(call, call.args["kind"], {}).applies_to(record):
                raise self._missing(call)
            changes = {TEXT_FIELDS[record.kind] if k == "text" else k: v for k, v in values.items()}
            text = dataclasses.replace(record, **changes).embedding_text()
            vector = (await self._embed_texts(call, [text]))[0]
            update = dataclasses.replace(
                self._update(call, record.kind, changes),
                guard=True,
                if_updated_at=record.updated_at,
            )
            try:
                return await self._apply(call, update, vector)
            except ConflictError:
                continue
        raise ConflictError(
            f"record {call.args['record_id']!r} kept changing while it was updated",
            operation="update",
            backend=self.store.backend,
            user_id=call.user_id,
        )

    def _update(
        self, call: Call, kind: RecordKind | None, values: Mapping[str, Any]
    ) -> RecordUpdate:
        return RecordUpdate(
            id=call.args["record_id"],
            kind=kind,
            values=values,
            at=utcnow(),
            history_limit=call.args["history_limit"],
            scope=call.args["scope"],
        )

    async def _apply(self, call: Call, update: RecordUpdate, vector: Any) -> Result[MemoryRecord]:
        done = await self.store.run(call.on("store", "update", update=update, vector=vector))
        if done.value is None:
            raise self._missing(call)
        return done

    def _missing(self, call: Call) -> NotFoundError:
        kind = call.args["kind"]
        return NotFoundError(
            f"no {kind.value if kind else 'record'} {call.args['record_id']!r}",
            operation="update",
            backend=self.store.backend,
            user_id=call.user_id,
        )

    async def what_worked(self, call: Call) -> Result[WhatWorked]:
        """The nearest interventions to the situation, ranked by similarity and outcome."""
        ranking = call.args["ranking"]
        found = await self.search(call.with_args(k=max(ranking.candidates, call.args["k"])))
        matches: SearchResults[Intervention] = found.value  # type: ignore[assignment]
        half_life = ranking.half_life_days
        worked = rank_worked(
            matches,
            k=call.args["k"],
            weights=ranking.outcome_weights,
            half_life=None if half_life is None else timedelta(days=half_life),
            now=utcnow(),
            status=found.status,
        )
        return Result(worked, found.status)

    async def list(self, call: Call) -> Result[Any]:
        page = await self.store.run(call.on("store", "list", **call.args))
        if page.status is page.value.status:
            return page
        return Result(Page(page.value.items, page.value.next_cursor, page.status), page.status)

    async def delete(self, call: Call) -> Result[Removed]:
        deleted = await self.store.run(call.on("store", "delete", **call.args))
        return Result(Removed(deleted.value, deleted.status), deleted.status)

    async def forget_user(self, call: Call) -> Result[Removed]:
        forgotten = await self.store.run(call.on("store", "forget_user"))
        return Result(Removed(forgotten.value, forgotten.status), forgotten.status)

    async def forget(self, call: Call) -> Result[Removed]:
        """Delete the user's records matching a scope filter, a listed batch at a time."""
        listing = call.on("store", "list", filters=call.args["filters"], limit=_FORGET_BATCH)
        removed, status = 0, Status.STORED
        while True:
            page = await self.store.run(listing.with_args(cursor=None))
            if page.status is Status.DEGRADED:
                raise StoreUnavailableError(
                    "cannot list the records to forget now; nothing more was deleted",
                    operation="forget",
                    backend=self.store.backend,
                    user_id=call.user_id,
                )
            ids = [record.id for record in page.value.items]
            if not ids:
                break
            deleted = await self.store.run(call.on("store", "delete", ids=ids))
            removed += deleted.value
            if deleted.status is not Status.STORED or not deleted.value:
                status = deleted.status  # deferred: the listing would find the same ones
                break
        return Result(Removed(removed, status), status)

    async def stats(self, call: Call) -> Result[MemoryStats]:
        def count(filters: SearchFilter) -> Awaitable[Result[Any]]:
            return self.store.run(call.on("store", "count", filters=filters))

        interventions, reflections, *outcomes = await asyncio.gather(
            count(SearchFilter(kind=RecordKind.INTERVENTION)),
            count(SearchFilter(kind=RecordKind.REFLECTION)),
            *(count(SearchFilter(outcomes=frozenset({o}))) for o in Outcome),
        )
        counts = [interventions, reflections, *outcomes]
        status = next((c.status for c in counts if c.status is not Status.COMPLETE), None)
        stats = MemoryStats(
            user_id=call.user_id or "",
            interventions=interventions.value,
            reflections=reflections.value,
            by_outcome={
                o.value: c.value for o, c in zip(Outcome, outcomes, strict=True) if c.value
            },
            status=status or Status.COMPLETE,
        )
        return Result(stats, stats.status)

    async def _embed_texts(self, call: Call, texts: Sequence[str]) -> UnitVectors:
        vectors = (await self.embedder.run(call.on("embedder", "embed", texts=texts))).value
        try:
            if not isinstance(vectors, np.ndarray) or vectors.dtype != np.float32:
                raise ValidationError("embedding", "must be a float32 array")  # noqa: TRY301
            return unit_vectors(vectors, len(texts), self.embedder.dimension)
        except ValidationError as exc:
            raise EmbeddingError(
                f"embedder returned {getattr(vectors, 'dtype', type(vectors).__name__)} "
                f"{getattr(vectors, 'shape', '')}: {exc.reason}; expected finite float32 "
                f"{(len(texts), self.embedder.dimension)}",
                operation="embed",
                backend=self.embedder.backend,
            ) from exc
