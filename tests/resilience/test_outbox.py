from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from flaky_store import SCHEMA, FlakyStore

from memcore.domain import Intervention, Outcome, SearchFilter
from memcore.errors import ConfigurationError, VectorSearchError
from memcore.resilience.outbox import Outbox, OutboxEntry
from memcore.testing._suite import intervention, reflection


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, SCHEMA.dimension)).astype(np.float32)


@pytest.fixture
async def store() -> FlakyStore:
    store = FlakyStore()
    await store.ensure_schema(SCHEMA)
    store.calls.clear()
    return store


async def test_replays_in_order(store: FlakyStore) -> None:
    events: list[tuple[str, int]] = []
    outbox = Outbox(on_event=lambda *event: events.append(event))
    first = intervention("u", 1, outcome=Outcome.NO_RESPONSE)
    second = dataclasses.replace(first, outcome=Outcome.TASK_COMPLETED)
    assert await outbox.put("upsert", "u", [first, intervention("u", 2)], vectors(2))
    assert await outbox.put("delete", "u", ids=["i2"])
    assert await outbox.put("upsert", "u", [second], vectors(1))
    assert await outbox.put("upsert", "gone", [intervention("gone", 1)], vectors(1))
    assert await outbox.put("forget_user", "gone")
    assert (len(outbox), outbox.size) == (5, 6)
    assert await outbox.replay(store)
    assert store.calls == ["upsert", "delete", "upsert", "upsert", "forget_user"]
    assert await store.get("u", ["i1", "i2"]) == [second]
    assert await store.user_ids() == ["u"]
    assert (len(outbox), outbox.size, outbox.replayed) == (0, 0, 6)
    assert [e for e, _ in events] == ["deferred"] * 5 + ["replayed"] * 5


async def test_replay_stops_while_the_store_is_down_and_resumes(store: FlakyStore) -> None:
    outbox = Outbox()
    for n in range(3):
        await outbox.put("upsert", "u", [intervention("u", n)], vectors(1, n))
    store.fail_next = 1
    assert not await outbox.replay(store)
    assert len(outbox) == 3
    store.calls.clear()
    store.down = False
    assert await outbox.replay(store)
    assert store.calls == ["upsert"] * 3
    assert await store.count("u", SearchFilter()) == 3


async def test_replay_is_idempotent(store: FlakyStore) -> None:
    outbox = Outbox()
    record = intervention("u", 1)
    await outbox.put("upsert", "u", [record], vectors(1))
    await outbox.put("upsert", "u", [record], vectors(1))  # a retried logical write
    await outbox.put("delete", "u", ids=["never-existed"])
    assert await outbox.replay(store)
    assert await outbox.replay(store)  # nothing left: a no-op
    assert await store.count("u", SearchFilter()) == 1


async def test_permanent_failures_are_dropped_and_counted(store: FlakyStore) -> None:
    events: list[tuple[str, int]] = []
    outbox = Outbox(on_event=lambda *event: events.append(event))
    await outbox.put("upsert", "u", [intervention("u", 1)], vectors(1))
    await outbox.put("upsert", "u", [intervention("u", 2)], vectors(1))
    store.error, store.fail_next = VectorSearchError, 1
    assert await outbox.replay(store)
    assert outbox.dropped == 1
    assert ("dropped", 1) in events
    assert [r.id for r in await store.get("u", ["i1", "i2"])] == ["i2"]


async def test_a_full_outbox_refuses_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    outbox = Outbox(capacity=3)
    assert await outbox.put("upsert", "u", [intervention("u", n) for n in range(2)], vectors(2))
    assert not await outbox.put(
        "upsert", "u", [intervention("u", 5), intervention("u", 6)], vectors(2)
    )
    assert await outbox.put("delete", "u", ids=["i0"])
    assert not await outbox.put("forget_user", "u")
    assert (outbox.size, outbox.dropped) == (3, 3)
    assert "outbox full" in caplog.text
    with pytest.raises(ValueError, match="capacity"):
        Outbox(capacity=0)


async def test_file_outbox_survives_a_restart(store: FlakyStore, tmp_path: Path) -> None:
    path = tmp_path / "outbox" / "outbox.jsonl"
    outbox = Outbox(path=path)
    records = [intervention("ü|*", 1, metadata={"b": True, "f": 0.5}), reflection("ü|*", 2)]
    vecs = vectors(2)
    await outbox.put("upsert", "ü|*", records, vecs)
    await outbox.put("delete", "ü|*", ids=["i1"])
    await outbox.put("upsert", "ü|*", records[:1], vecs[:1])
    await outbox.aclose()
    assert path.stat().st_mode & 0o777 == 0o600
    # The process dies; a new one finds the writes and replays them.
    reborn = Outbox(path=path)
    assert (len(reborn), reborn.size) == (3, 4)
    assert await reborn.replay(store)
    got, got_vectors = await store.get_with_vectors("ü|*", ["i1", "r2"])
    assert got == records
    assert np.allclose(got_vectors, vecs / np.linalg.norm(vecs, axis=1, keepdims=True), atol=1e-6)
    assert path.read_text() == ""  # emptied with the outbox
    await reborn.aclose()


async def test_file_outbox_skips_done_entries_and_a_torn_tail(
    store: FlakyStore, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.jsonl"
    outbox = Outbox(path=path)
    for n in range(3):
        await outbox.put("upsert", "u", [intervention("u", n)], vectors(1, n))
    # Replay the first entry only, then "crash" mid-way through writing a new line.
    store.down_after = 1
    assert not await outbox.replay(store)
    await outbox.aclose()
    with path.open("a") as handle:
        handle.write('{"seq": 9, "op": "ups')
    reborn = Outbox(path=path)
    assert [entry.records[0].id for entry in reborn._entries] == ["i1", "i2"]
    assert path.read_text().endswith("\n")  # the torn line was cut off
    assert await reborn.put("delete", "u", ids=["i1"])
    await reborn.aclose()
    assert [e.seq for e in Outbox(path=path)._entries] == [2, 3, 4]


async def test_a_corrupt_outbox_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    path.write_text('{"seq": 1, "op": "delete", "user_id": "u", "ids": ["a"]}\nnot json\n{}\n')
    with pytest.raises(ConfigurationError, match="line 2"):
        Outbox(path=path)


def test_entry_json_round_trip() -> None:
    record = intervention("u", 1)
    assert isinstance(record, Intervention)
    entry = OutboxEntry(
        seq=7, operation="upsert", user_id="u", records=(record,), vectors=vectors(1)
    )
    back = OutboxEntry.from_json(json.loads(entry.to_json()))
    assert (back.seq, back.operation, back.records) == (7, "upsert", (record,))
    assert np.array_equal(back.vectors, entry.vectors)
