from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from memcore.adapters.memory import InMemoryStore
from memcore.domain import Outcome, RecordKind, RecordUpdate, SearchFilter, utcnow
from memcore.errors import StoreError, StoreUnavailableError
from memcore.pipeline import Pipeline, Policy, StoreFront
from memcore.ports import MemoryStore
from memcore.resilience.degrade import DegradationPolicy
from memcore.resilience.outbox import Outbox
from memcore.security.audit import (
    AuditEvent,
    AuditPolicy,
    AuditSink,
    JsonlAuditSink,
    LoggingAuditSink,
    acting_as,
)
from memcore.testing import SCHEMA, StoreContract, unit_vectors
from memcore.testing._suite import intervention

CONTENT = "breathing exercise"  # in every sample intervention's text


class ListSink:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.closed = False

    async def write(self, event: AuditEvent) -> None:
        self.events.append(event)

    async def aclose(self) -> None:
        self.closed = True


class BrokenSink(ListSink):
    async def write(self, event: AuditEvent) -> None:
        raise OSError("disk full")


def audited_store(
    inner: MemoryStore, sink: AuditSink, *, actor: str | None = None, below: tuple[Policy, ...] = ()
) -> StoreFront:
    """``inner`` behind an audit policy (and ``below`` it, the given policies)."""
    return Pipeline([AuditPolicy(sink, backend=inner.backend, actor=actor), *below]).store(inner)


class TestAuditedStoreContract(StoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        store = audited_store(InMemoryStore(), ListSink())
        yield store
        await store.aclose()


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


@pytest.fixture
async def audited(sink: ListSink) -> StoreFront:
    store = audited_store(InMemoryStore(), sink, actor="agent")
    await store.ensure_schema(SCHEMA)
    return store


def test_sinks_satisfy_the_protocol(tmp_path: Path) -> None:
    for sink in (ListSink(), LoggingAuditSink(), JsonlAuditSink(tmp_path / "a.jsonl")):
        assert isinstance(sink, AuditSink)


async def test_every_data_call_is_audited_without_content(
    audited: StoreFront, sink: ListSink
) -> None:
    records = [intervention("alice", n) for n in range(3)]
    vectors = unit_vectors(3, 0)
    await audited.upsert("alice", records, vectors)
    await audited.get("alice", ["i0", "missing"])
    await audited.get_with_vectors("alice", ["i1"])
    await audited.search("alice", vectors[0], 2, SearchFilter())
    await audited.list("alice", SearchFilter(), 10)
    await audited.count("alice", SearchFilter())
    await audited.user_ids()
    await audited.delete("alice", ["i2"])
    with acting_as("support:jane"):
        await audited.forget_user("alice")
    summary = [(e.operation, e.user_id, e.result, e.count, e.record_ids) for e in sink.events]
    search = summary.pop(3)
    assert search[:4] == ("search", "alice", "ok", 2)
    assert search[4][0] == "i0"
    assert summary == [
        ("upsert", "alice", "ok", 3, ("i0", "i1", "i2")),
        ("get", "alice", "ok", 1, ("i0",)),
        ("export", "alice", "ok", 1, ("i1",)),
        ("list", "alice", "ok", 3, ("i0", "i1", "i2")),
        ("count", "alice", "ok", 3, ()),
        ("user_ids", None, "ok", 1, ()),
        ("delete", "alice", "ok", 1, ("i2",)),
        ("forget_user", "alice", "ok", 2, ()),
    ]
    assert [e.actor for e in sink.events] == ["agent"] * 8 + ["support:jane"]
    assert all(e.backend == "memory" for e in sink.events)
    assert not any(CONTENT in e.to_json() for e in sink.events)


async def test_failures_are_audited_with_the_error_type(sink: ListSink) -> None:
    audited = audited_store(InMemoryStore(), sink)  # schema not ensured: every call fails
    with pytest.raises(StoreError):
        await audited.delete("bob", ["x1"])
    (event,) = sink.events
    assert (event.operation, event.result, event.record_ids, event.actor) == (
        "delete",
        "error:StoreError",
        ("x1",),
        None,
    )


async def test_a_cancelled_call_is_audited(sink: ListSink) -> None:
    class Slow(InMemoryStore):
        async def count(self, user_id: str, filters: SearchFilter) -> int:
            await asyncio.Event().wait()
            return 0

    audited = audited_store(Slow(), sink)
    task = asyncio.create_task(audited.count("bob", SearchFilter()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [e.result for e in sink.events] == ["cancelled"]


async def test_a_broken_sink_never_fails_the_call(caplog: pytest.LogCaptureFixture) -> None:
    audited = audited_store(InMemoryStore(), BrokenSink())
    await audited.ensure_schema(SCHEMA)
    with caplog.at_level(logging.ERROR, logger="memcore.audit"):
        assert await audited.count("bob", SearchFilter()) == 0
    assert "audit event lost" in caplog.text


async def test_jsonl_sink_appends_one_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit.jsonl"
    path.parent.mkdir()
    path.write_text('{"earlier": true}\n')
    sink = JsonlAuditSink(path)
    audited = audited_store(InMemoryStore(), sink)
    await audited.ensure_schema(SCHEMA)
    await asyncio.gather(*(audited.count(f"user {n}", SearchFilter()) for n in range(50)))
    await audited.aclose()
    await audited.aclose()
    lines = path.read_text().splitlines()
    assert lines[0] == '{"earlier": true}'
    events = [json.loads(line) for line in lines[1:]]
    assert sorted(e["user_id"] for e in events) == sorted(f"user {n}" for n in range(50))
    assert set(events[0]) == {
        "operation",
        "user_id",
        "result",
        "count",
        "record_ids",
        "actor",
        "backend",
        "time",
    }


async def test_jsonl_sink_creates_a_private_file(tmp_path: Path) -> None:
    sink = JsonlAuditSink(tmp_path / "new.jsonl", fsync="never")
    await sink.write(AuditEvent(operation="count", user_id="u", result="ok", count=0))
    await sink.aclose()
    assert (tmp_path / "new.jsonl").stat().st_mode & 0o777 == 0o600


async def test_logging_sink(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="memcore.audit"):
        await LoggingAuditSink().write(AuditEvent(operation="get", user_id="u", result="ok"))
    (record,) = caplog.records
    assert record.audit["operation"] == "get"  # type: ignore[attr-defined]


async def test_deferred_and_degraded_calls_say_so(sink: ListSink) -> None:
    class Down(InMemoryStore):
        async def count(self, user_id: str, filters: SearchFilter) -> int:
            raise StoreUnavailableError("down")

        async def delete(self, user_id: str, ids: object) -> int:  # type: ignore[override]
            raise StoreUnavailableError("down")

    down = Down()
    degradation = DegradationPolicy(Outbox(), backend=down.backend, replay_interval=3600)
    audited = audited_store(down, sink, below=(degradation,))
    await audited.ensure_schema(SCHEMA)
    assert await audited.count("u", SearchFilter()) == 0
    assert await audited.delete("u", ["a"]) == 0
    assert [e.result for e in sink.events] == ["degraded", "deferred"]
    await audited.aclose()


async def test_updates_are_audited_with_the_record_id(audited: StoreFront, sink: ListSink) -> None:
    await audited.upsert("alice", [intervention("alice", 1)], unit_vectors(1, 0))
    for record_id in ("i1", "missing"):
        change = RecordUpdate(
            record_id, RecordKind.INTERVENTION, {"outcome": Outcome.USER_ENGAGED}, utcnow(), 10
        )
        await audited.update("alice", change, None)
    summary = [(e.operation, e.result, e.count, e.record_ids) for e in sink.events[1:]]
    assert summary == [("update", "ok", 1, ("i1",)), ("update", "ok", 0, ("missing",))]


async def test_a_created_duplicate_is_audited_as_a_write(
    audited: StoreFront, sink: ListSink
) -> None:
    """An update that creates a missing record (``create``, a first merged duplicate)
    is logged as the ``upsert`` it was; the same update finding it there counts it
    again, an ``update``.
    """
    new = intervention("alice", 1)
    sighting = RecordUpdate("i1", RecordKind.INTERVENTION, {}, utcnow(), 10, create=new)
    for _ in range(2):
        await audited.update("alice", replace(sighting, seen_again=True), unit_vectors(1, 0))
    summary = [(e.operation, e.result, e.count, e.record_ids) for e in sink.events]
    assert summary == [("upsert", "ok", 1, ("i1",)), ("update", "ok", 1, ("i1",))]
