"""Duplicate interventions at write time: keep (the default), skip or merge, judged within
one user, task and scope from a cosine threshold.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from memcore import Intervention, MemoryService, ValidationError
from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.settings import DuplicateSettings


async def _count(memory: MemoryService) -> int:
    return (await memory.stats("u")).interventions


async def test_duplicates_are_kept_by_default(memory: MemoryService) -> None:
    for _ in range(2):
        await memory.record_intervention("u", "Try box breathing", task="breathing")
    assert await _count(memory) == 2


async def test_skip_returns_the_record_already_stored(memory: MemoryService) -> None:
    first = await memory.record_intervention("u", "Try box breathing", task="breathing")
    again = await memory.record_intervention(
        "u", "Try box breathing", task="breathing", on_duplicate="skip"
    )
    assert again.record == first.record
    assert await _count(memory) == 1


async def test_merge_counts_the_record_seen_once_more(memory: MemoryService) -> None:
    first = (await memory.record_intervention("u", "Try box breathing", task="breathing")).record
    merged = (
        await memory.record_intervention(
            "u", "Try box breathing", task="breathing", on_duplicate="merge"
        )
    ).record
    assert isinstance(merged, Intervention)
    assert (merged.id, merged.seen) == (first.id, 2)
    assert merged.updated_at is not None
    assert await _count(memory) == 1


async def test_other_tasks_scopes_and_dissimilar_texts_are_not_duplicates(
    memory: MemoryService,
) -> None:
    await memory.record_intervention("u", "Try box breathing", task="breathing")
    for text, task, agent in (
        ("Try box breathing", "walk", None),
        ("Try box breathing", "breathing", "coach"),
        ("Drink a glass of water", "breathing", None),
    ):
        await memory.record_intervention("u", text, task=task, agent_id=agent, on_duplicate="skip")
    assert await _count(memory) == 4


async def test_the_threshold_decides() -> None:
    basis = np.eye(8, dtype=np.float32)
    near = basis[0] * 0.8 + basis[1] * 0.6  # cosine 0.8 with basis[0]
    for threshold, expected in ((0.81, 2), (0.79, 1)):
        service = MemoryService(
            InMemoryStore(),
            HashingEmbedder(dimension=8),
            duplicates=DuplicateSettings(policy="skip", threshold=threshold),
        )
        async with service as memory:
            await memory.record_intervention("u", "a", task="t", embedding=basis[0])
            await memory.record_intervention("u", "b", task="t", embedding=near)
            assert await _count(memory) == expected


async def test_concurrent_identical_writes_leave_one_record_seen_each_time(
    memory: MemoryService,
) -> None:
    receipts = await asyncio.gather(
        *(
            memory.record_intervention("u", "Try box breathing", task="b", on_duplicate="merge")
            for _ in range(10)
        )
    )
    assert len({receipt.record.id for receipt in receipts}) == 1
    assert await _count(memory) == 1
    stored = await memory.get("u", receipts[0].record.id)
    assert isinstance(stored, Intervention)
    assert stored.seen == 10


async def test_a_bad_policy_is_refused(memory: MemoryService) -> None:
    with pytest.raises(ValidationError):
        await memory.record_intervention("u", "x", task="t", on_duplicate="drop")  # type: ignore[arg-type]
    assert await _count(memory) == 0
