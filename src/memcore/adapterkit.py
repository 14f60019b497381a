"""What every store backend needs, written once: a public kit for adapters.

- :class:`SchemaGuard`: the schema a store was prepared for, and the typed error when a
  data method is called before :meth:`~memcore.ports.MemoryStore.ensure_schema`.
- :func:`check_upsert`: the tenancy precondition of ``upsert`` (the only check a store
  keeps: vectors arrive validated as :data:`~memcore.ports.UnitVectors`).
- :func:`top_k`: the indices of the ``k`` best scores, best first.
- :func:`encode_cursor` / :func:`decode_cursor`: the opaque ``list`` cursor for the
  position after ``(created_at, id)``.

The in-memory store and the Redis store use it; a new backend should too
(``docs/writing-an-adapter.md``).
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from memcore.domain import EmbeddingSchema, MemoryRecord
from memcore.errors import StoreError, ValidationError
from memcore.ports import UnitVectors

__all__ = ["SchemaGuard", "check_upsert", "decode_cursor", "encode_cursor", "top_k"]

_RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")


class SchemaGuard:
    """The schema a store was prepared for; ``None`` until ``ensure_schema``."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.schema: EmbeddingSchema | None = None

    def require(self, operation: str) -> EmbeddingSchema:
        """The schema, or a :class:`~memcore.errors.StoreError` saying the store is not ready."""
        if self.schema is None:
            raise StoreError(
                "the store is not ready: its schema was never ensured (a service prepares it "
                "in start(); memcore.connect() starts the service)",
                operation=operation,
                backend=self.backend,
            )
        return self.schema


def check_upsert(
    user_id: str, records: Sequence[MemoryRecord], vectors: UnitVectors, *, backend: str
) -> None:
    """Raise :class:`~memcore.errors.ValidationError` unless every record is ``user_id``'s
    and there is one vector per record. Nothing is stored on failure.
    """
    context = {"operation": "upsert", "backend": backend, "user_id": user_id}
    if len(vectors) != len(records):
        raise ValidationError(
            "embedding", f"{len(vectors)} vectors for {len(records)} records", **context
        )
    for record in records:
        if record.user_id != user_id:
            raise ValidationError(
                "user_id", "every record must belong to the user written for", **context
            )


def top_k(scores: NDArray[np.float32], k: int) -> NDArray[np.intp]:
    """Indices of the ``k`` largest ``scores``, largest first (ties in index order)."""
    n = len(scores)
    top = np.argpartition(scores, n - k)[n - k :] if k < n else np.arange(n)
    return top[np.argsort(-scores[top], kind="stable")]


def encode_cursor(created_at: float, record_id: str) -> str:
    """An opaque cursor for the position just after ``(created_at, record_id)``."""
    return base64.urlsafe_b64encode(json.dumps([created_at, record_id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[float, str]:
    """Inverse of :func:`encode_cursor`; anything else raises ValidationError. The id is
    checked to be a record id, so a store may put it in a query.
    """
    try:
        created_at, record_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        created = float(created_at)
    except (ValueError, TypeError) as exc:
        raise ValidationError("cursor", "is not a cursor this store returned") from exc
    if (
        not isinstance(record_id, str)
        or not _RECORD_ID.fullmatch(record_id)
        or not math.isfinite(created)
    ):
        raise ValidationError("cursor", "is not a cursor this store returned")
    return created, record_id
