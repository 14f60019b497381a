"""Export, import and clear: lossless round trip, idempotent import, guarded clear."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from memcore import debug
from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.domain import Intervention, MemoryRecord, Outcome, OutcomeChange, Reflection
from memcore.errors import SchemaMismatchError, ValidationError
from memcore.ports import Vectors
from memcore.service import MemoryService
from memcore.testing import unit_vectors

USERS = ("ana", "ben", "chen")


@pytest.fixture
async def seeded() -> AsyncIterator[MemoryService]:
    async with MemoryService(InMemoryStore(), HashingEmbedder(dimension=24)) as service:
        for n, user in enumerate(USERS):
            items = [
                {
                    "intervention_text": f"intervention {i} for {user} ünï",
                    "task": f"task{i % 3}",
                    "context": "ctx" if i % 2 else "",
                    "outcome": list(Outcome)[i % len(Outcome)],
                    "metadata": {"i": i, "f": 0.5 + i, "b": i % 2 == 0, "s": "x"},
                    "created_at": datetime(2024, 1, 1 + i, tzinfo=timezone.utc),
                }
                for i in range(7 + n)
            ]
            saved = (await service.record_interventions(user, items)).records
            await service.record_reflection(user, f"{user} likes walks", source_ids=[saved[0].id])
        yield service


async def _snapshot(service: MemoryService) -> dict[str, tuple[list[MemoryRecord], Vectors]]:
    snapshot = {}
    for user in await service.store.user_ids():
        page = await service.list(user, limit=1000)
        records, vectors = await service.store.get_with_vectors(user, [r.id for r in page.items])
        snapshot[user] = (records, vectors.copy())
    return snapshot


async def test_export_clear_import_restores_identical_records_and_vectors(
    seeded: MemoryService,
) -> None:
    before = await _snapshot(seeded)
    out = io.StringIO()
    progress: list[int] = []
    exported = await debug.export_jsonl(seeded, out, page_size=4, progress=progress.append)
    assert (exported.users, exported.records) == (3, sum(len(r) for r, _ in before.values()))
    assert sum(progress) == exported.records

    plan = await debug.plan_clear(seeded)
    assert await debug.clear(seeded, plan, confirm="all") == exported.records
    assert await seeded.store.user_ids() == []

    lines = out.getvalue().splitlines()
    imported = await debug.import_jsonl(seeded, lines, batch_size=5)
    assert imported == exported
    _assert_same(await _snapshot(seeded), before)

    await debug.import_jsonl(seeded, lines)  # idempotent: nothing doubles, nothing changes
    _assert_same(await _snapshot(seeded), before)


def _assert_same(
    got: dict[str, tuple[list[MemoryRecord], Vectors]],
    want: dict[str, tuple[list[MemoryRecord], Vectors]],
) -> None:
    assert got.keys() == want.keys()
    for user, (records, vectors) in want.items():
        assert got[user][0] == records
        # The store re-normalises what it is given: unit vectors may move by an ulp.
        np.testing.assert_array_max_ulp(got[user][1], vectors, maxulp=4)


async def test_the_file_holds_the_stored_vectors_bit_for_bit(seeded: MemoryService) -> None:
    out = io.StringIO()
    await debug.export_jsonl(seeded, out, user_ids=["chen"])
    rows = [json.loads(line) for line in out.getvalue().splitlines()[1:]]
    _, stored = await seeded.store.get_with_vectors("chen", [row["id"] for row in rows])
    np.testing.assert_array_equal(np.array([row["vector"] for row in rows], np.float32), stored)


async def test_export_of_one_user_streams_only_that_user(seeded: MemoryService) -> None:
    out = io.StringIO()
    result = await debug.export_jsonl(seeded, out, user_ids=["ben"])
    header, *rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert header["schema"] == {"dimension": 24, "model": "memcore-hashing-v1"}
    assert {row["user_id"] for row in rows} == {"ben"}
    assert len(rows) == result.records == 9
    assert all(len(row["vector"]) == 24 for row in rows)


async def test_import_refuses_another_schema_and_bad_lines(seeded: MemoryService) -> None:
    out = io.StringIO()
    await debug.export_jsonl(seeded, out, user_ids=["ana"])
    lines = out.getvalue().splitlines()
    async with MemoryService(InMemoryStore(), HashingEmbedder(dimension=8)) as other:
        with pytest.raises(SchemaMismatchError):
            await debug.import_jsonl(other, lines)
    with pytest.raises(ValidationError, match="line 1"):
        await debug.import_jsonl(seeded, ['{"format": "something else"}'])
    with pytest.raises(ValidationError, match="line 2"):
        await debug.import_jsonl(seeded, [lines[0], '{"kind": "intervention"}'])
    hostile = json.loads(lines[1]) | {"user_id": " "}
    with pytest.raises(ValidationError, match="user_id"):
        await debug.import_jsonl(seeded, [lines[0], json.dumps(hostile)])


async def test_clear_shows_counts_and_refuses_without_confirmation(seeded: MemoryService) -> None:
    plan = await debug.plan_clear(seeded, "ana")
    assert plan.counts == {"ana": 8}
    assert plan.total == 8
    for wrong in ("", "all", "ANA", "ben"):
        with pytest.raises(ValidationError, match="nothing was deleted"):
            await debug.clear(seeded, plan, confirm=wrong)
    assert (await seeded.stats("ana")).interventions == 7
    everyone = await debug.plan_clear(seeded)
    assert everyone.counts == {"ana": 8, "ben": 9, "chen": 10}
    with pytest.raises(ValidationError):
        await debug.clear(seeded, everyone, confirm="ana")
    assert await debug.clear(seeded, plan, confirm="ana") == 8
    assert await seeded.store.user_ids() == ["ben", "chen"]


async def test_summary_and_index_info(seeded: MemoryService) -> None:
    summary = await debug.summarize(seeded)
    assert [s.user_id for s in summary.users] == list(USERS)
    assert summary.reflections == 3
    assert sum(summary.by_outcome.values()) == summary.interventions
    assert summary.store_facts["records"] == 27
    info = await debug.index_info(seeded)
    assert info["schema"] == {"dimension": 24, "model": "memcore-hashing-v1"}
    assert info["store"]["backend"] == "memory"
    assert info["store"]["data"] == seeded.store.target


async def test_ids_stored_decomposed_move_to_nfc_by_export_clear_import() -> None:
    """The migration note of docs/concepts.md: records an older version stored under an
    NFD user id are exported as stored and imported under the NFC id.
    """
    nfc, nfd = "jos\u00e9", "jose\u0301"
    async with MemoryService(InMemoryStore(), HashingEmbedder(dimension=24)) as service:
        receipt = await service.record_intervention(nfc, "hello", task="t")
        old = dataclasses.replace(receipt.record, id="old-1", user_id=nfd)  # as 0.1 stored it
        await service.store.upsert(nfd, [old], np.eye(1, 24, dtype=np.float32))
        assert sorted(await service.store.user_ids()) == sorted([nfc, nfd])
        out = io.StringIO()
        assert (await debug.export_jsonl(service, out)).records == 2
        await debug.clear(service, await debug.plan_clear(service), confirm="all")
        await debug.import_jsonl(service, out.getvalue().splitlines())
        assert await service.store.user_ids() == [nfc]
        assert {r.id for r in (await service.list(nfd, limit=10)).items} == {"old-1", receipt.id}


async def test_export_and_import_keep_every_field_of_both_kinds() -> None:
    """Every field of the table, the lifecycle's included (scopes, expiry, updates, seen),
    is set to something other than its default here, so a field added later must be too.
    """
    at = datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)
    later, far = at + timedelta(hours=2), datetime(2190, 1, 1, tzinfo=timezone.utc)
    records: list[MemoryRecord] = [
        Intervention(
            id="i1", user_id="ana", intervention_text="Box breathing", task="calm",
            context="before a talk", outcome=Outcome.TASK_COMPLETED, created_at=at,
            metadata={"n": 1, "lang": "en"}, agent_id="coach", session_id="s1",
            expires_at=far, updated_at=later, seen=3,
            outcome_history=(
                OutcomeChange(Outcome.USER_ENGAGED, at + timedelta(minutes=5)),
                OutcomeChange(Outcome.TASK_COMPLETED, later),
            ),
        ),
        Reflection(
            id="r1", user_id="ana", text="Breathing helps her", source_ids=("i1",),
            created_at=at, metadata={"b": True}, agent_id="coach", session_id="s1",
            expires_at=far, updated_at=later,
        ),
    ]  # fmt: skip
    for record in records:
        for spec in dataclasses.fields(record):
            default = spec.default_factory() if callable(spec.default_factory) else spec.default
            if default is not dataclasses.MISSING:
                assert getattr(record, spec.name) != default, f"set {spec.name} in this test"
    async with MemoryService(InMemoryStore(), HashingEmbedder(dimension=16)) as service:
        await service.store.upsert("ana", records, unit_vectors(2, seed=3))
        out = io.StringIO()
        assert (await debug.export_jsonl(service, out)).records == 2
        await service.forget_user("ana")
        await debug.import_jsonl(service, out.getvalue().splitlines())
        assert await service.get_many("ana", ["i1", "r1"]) == records
