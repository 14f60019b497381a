from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flaky_store import SCHEMA, FlakyStore

from memcore.domain import Outcome, SearchFilter
from memcore.errors import ConfigurationError, VectorSearchError
from memcore.pipeline import Call
from memcore.ports import UnitVectors
from memcore.resilience.journal import Journal, decode_args, encode_args
from memcore.resilience.outbox import Outbox
from memcore.testing._suite import intervention, reflection
from memcore.validation import unit_vectors


def journals(directory: Path) -> list[Path]:
    """The outbox journals in ``directory``."""
    return sorted(directory.glob("*.jsonl"))


def vectors(n: int, seed: int = 0) -> UnitVectors:
    raw = np.random.default_rng(seed).standard_normal((n, SCHEMA.dimension))
    return unit_vectors(raw, n, SCHEMA.dimension)


def write(operation: str, user_id: str, **args: Any) -> Call:
    return Call("store", operation, user_id, args)


def upsert(user_id: str, records: list[Any], rows: UnitVectors) -> Call:
    return write("upsert", user_id, records=records, vectors=rows)


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
    assert await outbox.put(upsert("u", [first, intervention("u", 2)], vectors(2)))
    assert await outbox.put(write("delete", "u", ids=["i2"]))
    assert await outbox.put(upsert("u", [second], vectors(1)))
    assert await outbox.put(upsert("gone", [intervention("gone", 1)], vectors(1)))
    assert await outbox.put(write("forget_user", "gone"))
    assert (len(outbox), outbox.size) == (5, 6)
    assert await outbox.replay(store.run)
    assert store.calls == ["upsert", "delete", "upsert", "upsert", "forget_user"]
    assert await store.get("u", ["i1", "i2"]) == [second]
    assert await store.user_ids() == ["u"]
    assert (len(outbox), outbox.size, outbox.replayed) == (0, 0, 6)
    assert [e for e, _ in events] == ["deferred"] * 5 + ["replayed"] * 5


async def test_replay_stops_while_the_store_is_down_and_resumes(store: FlakyStore) -> None:
    outbox = Outbox()
    for n in range(3):
        await outbox.put(upsert("u", [intervention("u", n)], vectors(1, n)))
    store.fail_next = 1
    assert not await outbox.replay(store.run)
    assert len(outbox) == 3
    store.calls.clear()
    assert await outbox.replay(store.run)
    assert store.calls == ["upsert"] * 3
    assert await store.count("u", SearchFilter()) == 3


async def test_replay_is_idempotent(store: FlakyStore) -> None:
    outbox = Outbox()
    record = intervention("u", 1)
    await outbox.put(upsert("u", [record], vectors(1)))
    await outbox.put(upsert("u", [record], vectors(1)))  # a retried logical write
    await outbox.put(write("delete", "u", ids=["never-existed"]))
    assert await outbox.replay(store.run)
    assert await outbox.replay(store.run)  # nothing left: a no-op
    assert await store.count("u", SearchFilter()) == 1


async def test_permanent_failures_are_dropped_and_counted(store: FlakyStore) -> None:
    events: list[tuple[str, int]] = []
    outbox = Outbox(on_event=lambda *event: events.append(event))
    await outbox.put(upsert("u", [intervention("u", 1)], vectors(1)))
    await outbox.put(upsert("u", [intervention("u", 2)], vectors(1)))
    store.error, store.fail_next = VectorSearchError, 1
    assert await outbox.replay(store.run)
    assert outbox.dropped == 1
    assert ("dropped", 1) in events
    assert [r.id for r in await store.get("u", ["i1", "i2"])] == ["i2"]


async def test_a_full_outbox_refuses_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    outbox = Outbox(capacity=3)
    assert await outbox.put(upsert("u", [intervention("u", n) for n in range(2)], vectors(2)))
    assert not await outbox.put(
        upsert("u", [intervention("u", 5), intervention("u", 6)], vectors(2))
    )
    assert await outbox.put(write("delete", "u", ids=["i0"]))
    assert not await outbox.put(write("forget_user", "u"))
    assert (outbox.size, outbox.dropped) == (3, 3)
    assert "outbox full" in caplog.text
    with pytest.raises(ValueError, match="capacity"):
        Outbox(capacity=0)


async def test_a_durable_outbox_survives_the_process(store: FlakyStore, tmp_path: Path) -> None:
    outbox = Outbox(directory=tmp_path / "outbox")
    records = [intervention("ü|*", 1, metadata={"b": True, "f": 0.5}), reflection("ü|*", 2)]
    rows = vectors(2)
    await outbox.put(upsert("ü|*", records, rows))
    await outbox.put(write("delete", "ü|*", ids=["i1"]))
    await outbox.put(upsert("ü|*", records[:1], UnitVectors(rows[:1])))
    await outbox.aclose()
    [journal] = journals(tmp_path / "outbox")
    assert journal.stat().st_mode & 0o777 == 0o600
    # The process is gone; a new one adopts its writes and replays them.
    reborn = Outbox(directory=tmp_path / "outbox")
    assert await reborn.adopt() == 3
    assert (len(reborn), reborn.size) == (3, 4)
    assert await reborn.replay(store.run)
    got, got_vectors = await store.get_with_vectors("ü|*", ["i1", "r2"])
    assert got == records
    assert np.allclose(got_vectors, rows, atol=1e-6)
    assert not journal.exists()  # every adopted write is done: the journal is gone
    await reborn.aclose()


async def test_a_killed_process_leaves_its_writes_to_the_next(
    store: FlakyStore, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, os
        import numpy as np
        from memcore.pipeline import Call
        from memcore.resilience.outbox import Outbox
        from memcore.testing._suite import intervention
        from memcore.validation import unit_vectors

        async def main():
            outbox = Outbox(directory={str(tmp_path)!r})
            rows = unit_vectors(np.ones((1, {SCHEMA.dimension})), 1, {SCHEMA.dimension})
            args = {{"records": [intervention("u", 7)], "vectors": rows}}
            call = Call("store", "upsert", "u", args)
            assert await outbox.put(call)
            os.kill(os.getpid(), 9)  # no clean-up of any kind

        asyncio.run(main())
        """
    )
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", script], check=False, timeout=60
    )
    assert done.returncode == -9
    outbox = Outbox(directory=tmp_path)
    assert await outbox.adopt() == 1
    assert await outbox.replay(store.run)
    assert [r.id for r in await store.get("u", ["i7"])] == ["i7"]
    await outbox.aclose()


async def test_a_journal_skips_done_entries_and_a_torn_tail(
    store: FlakyStore, tmp_path: Path
) -> None:
    outbox = Outbox(directory=tmp_path)
    for n in range(3):
        await outbox.put(upsert("u", [intervention("u", n)], vectors(1, n)))
    # Replay the first entry only, then "crash" mid-way through writing a new line.
    store.down_after = 1
    assert not await outbox.replay(store.run)
    await outbox.aclose()
    [path] = journals(tmp_path)
    with path.open("a") as handle:
        handle.write('{"seq": 9, "op": "ups')
    store.down, store.down_after = False, None
    reborn = Outbox(directory=tmp_path)
    assert await reborn.adopt() == 2
    store.calls.clear()
    assert await reborn.replay(store.run)
    assert store.calls == ["upsert", "upsert"]
    assert await store.count("u", SearchFilter()) == 3
    await reborn.aclose()


async def test_a_corrupt_journal_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "0.jsonl"
    line = '{"seq": 1, "op": "delete", "user_id": "u", "args": {"ids": ["a"]}}'
    path.write_text(f"{line}\nnot json\n{{}}\n")
    with pytest.raises(ConfigurationError, match="line 2"):
        await Outbox(directory=tmp_path).adopt()


def test_arguments_round_trip_through_json(tmp_path: Path) -> None:
    record = intervention("u", 1)
    rows = vectors(1)
    back = decode_args(encode_args({"records": [record], "vectors": rows, "ids": ("a", "b")}))
    assert back["records"] == [record]
    assert np.array_equal(back["vectors"], rows)
    assert back["ids"] == ["a", "b"]
    journal = Journal.create(tmp_path)
    journal.append(1, upsert("u", [record], rows))
    [(seq, call)] = journal.load()
    assert (seq, call.operation, call.user_id, call.args["records"]) == (1, "upsert", "u", [record])
    journal.close(delete=True)
    assert not journal.path.exists()
    assert [path.name for path in tmp_path.iterdir()] in ([], [f"{journal.path.name}.lock"])
