"""Operators' tools: summaries, index info, JSON Lines export/import and a guarded clear.

Export writes one header line, then one line per record (its JSON form from
:mod:`memcore.domain.codec` plus ``"vector"``), user by user, page by page, so memory
use stays flat however big the store. Import validates every line as the service would,
checks the file's schema against the service's, and upserts in batches: importing the
same file twice leaves the store as after once (records are upserted by id).

Clearing is two steps, :func:`plan_clear` (counts, deletes nothing) and
:func:`clear`, which runs only with ``confirm`` equal to the plan's target: the user id,
or ``"all"`` for everyone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, Any

import numpy as np

from memcore.domain import EmbeddingSchema, Intervention, MemoryRecord, MemoryStats, SearchFilter
from memcore.domain.codec import record_from_dict, record_to_dict
from memcore.domain.fields import canonical
from memcore.errors import SchemaMismatchError, ValidationError
from memcore.pipeline import Port
from memcore.ports import Vectors
from memcore.service import MemoryService
from memcore.validation import (
    unit_vectors,
    validate_intervention,
    validate_reflection,
    validate_user_id,
)

__all__ = [
    "ALL_USERS",
    "EXPORT_FORMAT",
    "ClearPlan",
    "MemorySummary",
    "TransferResult",
    "clear",
    "export_jsonl",
    "import_jsonl",
    "index_info",
    "plan_clear",
    "summarize",
]

EXPORT_FORMAT = "memcore-export"
EXPORT_VERSION = 1
ALL_USERS = "all"
"""What to type to confirm clearing every user."""
PAGE_SIZE = 500

Progress = Callable[[int], None]
"""Called with the number of records just processed."""

logger = logging.getLogger("memcore.debug")


@dataclass(frozen=True)
class MemorySummary:
    """Counts by user, kind and outcome, plus what the store says about itself."""

    users: tuple[MemoryStats, ...]
    store_facts: dict[str, str | int | float | bool] = field(default_factory=dict)

    @property
    def interventions(self) -> int:
        """Interventions of every user."""
        return sum(user.interventions for user in self.users)

    @property
    def reflections(self) -> int:
        """Reflections of every user."""
        return sum(user.reflections for user in self.users)

    @property
    def by_outcome(self) -> dict[str, int]:
        """Interventions of every user by outcome."""
        totals: dict[str, int] = {}
        for user in self.users:
            for outcome, count in user.by_outcome.items():
                totals[outcome] = totals.get(outcome, 0) + count
        return totals


@dataclass(frozen=True)
class TransferResult:
    """What an export or import moved."""

    users: int
    records: int


@dataclass(frozen=True)
class ClearPlan:
    """What :func:`clear` would delete: ``counts`` per user, for ``target`` (a user or all)."""

    target: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """Records that would be deleted."""
        return sum(self.counts.values())


async def summarize(service: MemoryService, user_ids: Sequence[str] | None = None) -> MemorySummary:
    """Counts for ``user_ids`` (default: every user in the store)."""
    users = list(user_ids) if user_ids is not None else await service.store.user_ids()
    stats = tuple([await service.stats(user) for user in users])
    store = await service.store.health()
    return MemorySummary(users=stats, store_facts=dict(store.facts))


async def index_info(service: MemoryService) -> dict[str, Any]:
    """The schema the service writes, where the data is (the store's ``target``, without
    credentials), what the store and embedder report about themselves, and the layers
    each call goes through (the service's own pipeline, outermost first).
    """
    store, embedder = await service.store.health(), await service.embedder.health()
    backends: dict[Port, str] = {
        "service": "use cases",
        "store": service.store.backend,
        "embedder": service.embedder.backend,
    }
    layers = service.pipeline.describe(backends)
    return {
        "layers": {port: " > ".join(names) for port, names in layers.items()},
        "store": {
            "backend": service.store.backend,
            "data": service.store.target,
            "status": store.status.value,
            **store.facts,
        },
        "embedder": {"backend": service.embedder.backend, **embedder.facts},
        "schema": {"dimension": service.schema.dimension, "model": service.schema.model},
    }


async def _pages(
    service: MemoryService, user_id: str, page_size: int
) -> AsyncIterator[tuple[list[MemoryRecord], Vectors]]:
    """Every record of ``user_id`` with its vector, one page at a time."""
    store, cursor, everything = service.store, None, SearchFilter()
    while True:
        page = await store.list(user_id, everything, page_size, cursor)
        if page.items:
            yield await store.get_with_vectors(user_id, [record.id for record in page.items])
        cursor = page.next_cursor
        if cursor is None:
            return


async def export_jsonl(
    service: MemoryService,
    out: IO[str],
    *,
    user_ids: Sequence[str] | None = None,
    page_size: int = PAGE_SIZE,
    progress: Progress | None = None,
) -> TransferResult:
    """Write ``user_ids``' records (default: every user's, under their ids as stored) with
    their vectors to ``out``.
    """
    users: list[str]
    if user_ids is None:  # as stored: ids written before NFC normalisation stay reachable
        users = await service.store.user_ids()
    else:
        users = [validate_user_id(user) for user in user_ids]
    header = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "schema": {"dimension": service.schema.dimension, "model": service.schema.model},
        "backend": service.store.backend,
        "exported_at": datetime.now(timezone.utc).isoformat(),
    }
    out.write(json.dumps(header) + "\n")
    total = 0
    for user in users:
        async for records, vectors in _pages(service, user, page_size):
            for record, vector in zip(records, vectors, strict=True):
                line = {**record_to_dict(record), "vector": vector.tolist()}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
            total += len(records)
            if progress is not None:
                progress(len(records))
    logger.info("exported", extra={"users": len(users), "records": total})
    return TransferResult(users=len(users), records=total)


async def import_jsonl(
    service: MemoryService,
    lines: Iterable[str],
    *,
    batch_size: int = PAGE_SIZE,
    progress: Progress | None = None,
) -> TransferResult:
    """Upsert the records of an :func:`export_jsonl` file; the schemas must match."""
    numbered = enumerate(lines, start=1)
    _check_header(next(numbered, (1, ""))[1], service.schema)
    batch: list[MemoryRecord] = []
    rows: list[list[float]] = []
    users: set[str] = set()
    total = 0

    async def flush() -> None:
        nonlocal total
        if batch:
            vectors = unit_vectors(np.asarray(rows), len(batch), service.schema.dimension)
            await service.store.upsert(batch[0].user_id, batch, vectors)
            total += len(batch)
            if progress is not None:
                progress(len(batch))
            batch.clear()
            rows.clear()

    for number, line in numbered:
        if not line.strip():
            continue
        record, vector = _parse_line(line, number, service)
        if batch and (record.user_id != batch[0].user_id or len(batch) >= batch_size):
            await flush()
        batch.append(record)
        rows.append(vector)
        users.add(record.user_id)
    await flush()
    logger.info("imported", extra={"users": len(users), "records": total})
    return TransferResult(users=len(users), records=total)


def _check_header(line: str, schema: EmbeddingSchema) -> None:
    try:
        header = json.loads(line)
        ok = header["format"] == EXPORT_FORMAT and header["version"] == EXPORT_VERSION
        found = EmbeddingSchema(**header["schema"])
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise ValidationError("line 1", f"not a {EXPORT_FORMAT} v{EXPORT_VERSION} header")
    if found != schema:
        raise SchemaMismatchError(
            "the export was made with another embedding schema",
            expected=found.describe(),
            actual=schema.describe(),
            operation="import",
        )


def _parse_line(line: str, number: int, service: MemoryService) -> tuple[MemoryRecord, list[float]]:
    try:
        data = json.loads(line)
        vector = data.pop("vector")
        record = record_from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValidationError(f"line {number}", f"not a record ({type(exc).__name__})") from exc
    validate_user_id(record.user_id)
    if isinstance(record, Intervention):
        return validate_intervention(record, service.limits), vector
    return validate_reflection(record, service.limits), vector


async def plan_clear(service: MemoryService, user_id: str | None = None) -> ClearPlan:
    """What clearing ``user_id`` (``None``: every user) would delete. Deletes nothing."""
    users: list[str]
    if user_id is None:
        users, target = await service.store.user_ids(), ALL_USERS
    else:
        users, target = [validate_user_id(user_id)], user_id
    everything = SearchFilter()
    counts = {user: await service.store.count(user, everything) for user in users}
    return ClearPlan(target=target, counts=counts)


async def clear(service: MemoryService, plan: ClearPlan, *, confirm: str) -> int:
    """Delete what ``plan`` lists, if ``confirm`` is its target; returns records deleted."""
    if confirm != plan.target:
        raise ValidationError("confirm", f"type {plan.target!r} to confirm; nothing was deleted")
    deleted = 0
    for user in plan.counts:
        if canonical(user) == user:
            deleted += await service.forget_user(user)
        else:  # stored before ids were normalised: the service would forget the NFC id
            deleted += await service.store.forget_user(user)
    logger.warning("cleared", extra={"users": len(plan.counts), "records": deleted})
    return deleted
