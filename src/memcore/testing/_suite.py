"""What every contract suite shares: the override guard and test data helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from memcore.domain import EmbeddingSchema, Intervention, MetadataValue, Outcome, Reflection
from memcore.ports import MemoryStore, UnitVectors

#: The schema the store suite writes with: small vectors keep the suite fast.
SCHEMA = EmbeddingSchema(dimension=16, model="memcore-contract-v1")
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


class ContractSuite:
    """Base of the contract suites.

    A subclass may override an inherited contract test only to mark it as an expected
    failure, so a backend's gap stays visible: the override must carry
    ``@pytest.mark.xfail(reason=...)``. Anything else raises ``TypeError`` at import.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, member in vars(cls).items():
            if not name.startswith("test_"):
                continue
            inherited = any(
                issubclass(base, ContractSuite) and name in vars(base) for base in cls.__mro__[1:]
            )
            if inherited and not _has_xfail_reason(member):
                msg = (
                    f"{cls.__name__}.{name} overrides a memcore contract test; mark the override "
                    "with @pytest.mark.xfail(reason=...) instead of changing what it checks"
                )
                raise TypeError(msg)


class StoreFixtures(ContractSuite):
    """The fixture an adapter provides, and the ready-to-use store built from it."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        """Yield a new empty store (schema not ensured) and close it afterwards."""
        raise NotImplementedError("subclass StoreContract and provide the `store` fixture")
        yield  # pragma: no cover  # noqa: PT022 - makes this an async generator fixture

    @pytest.fixture
    async def ready(self, store: MemoryStore) -> MemoryStore:
        """The store with the contract schema ensured."""
        await store.ensure_schema(SCHEMA)
        return store


def _has_xfail_reason(member: object) -> bool:
    marks = getattr(member, "pytestmark", [])
    return any(mark.name == "xfail" and mark.kwargs.get("reason") for mark in marks)


def unit_vectors(count: int, seed: int, dimension: int = SCHEMA.dimension) -> UnitVectors:
    """``count`` random unit vectors, the same for the same seed."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return UnitVectors(vectors)


def intervention(
    user_id: str,
    number: int,
    *,
    outcome: Outcome = Outcome.TASK_COMPLETED,
    task: str = "breathing",
    metadata: dict[str, MetadataValue] | None = None,
    minutes: int | None = None,
    record_id: str | None = None,
) -> Intervention:
    """A realistic intervention; ``minutes`` after :data:`T0` (default: ``number``)."""
    return Intervention(
        id=record_id or f"i{number}",
        user_id=user_id,
        intervention_text=f'Try a slow breathing exercise, variant {number} — «ü» "quoted"\nline',
        task=task,
        context=f"user mentioned stress before session {number}",
        outcome=outcome,
        created_at=T0 + timedelta(minutes=number if minutes is None else minutes),
        metadata={} if metadata is None else metadata,
    )


def reflection(user_id: str, number: int, *, record_id: str | None = None) -> Reflection:
    """A reflection drawn from two interventions."""
    return Reflection(
        id=record_id or f"r{number}",
        user_id=user_id,
        text=f"Breathing works best in the morning ({number})",
        source_ids=("i1", "i2"),
        created_at=T0 + timedelta(minutes=number),
        metadata={"confidence": 0.8, "reviewed": True, "source_count": 2, "lang": "en"},
    )
