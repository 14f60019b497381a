"""What a search or listing fetches of each record, and how a row is read back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from memcore.domain import (
    EmbeddingSchema,
    Intervention,
    Outcome,
    OutcomeChange,
    RecordKind,
    Reflection,
    SearchFilter,
)
from memcore.ports import UnitVectors
from memcore_redis.documents import hash_fields, record_from_fields
from memcore_redis.layout import HashLayout, JsonLayout

from .conftest import StoreFactory

INTERVENTIONS = frozenset({RecordKind.INTERVENTION})
REFLECTIONS = frozenset({RecordKind.REFLECTION})
# A time a POSIX number rounded to 12 digits (as RediSearch returns it) does not give back.
EXACT = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone.utc)


def _raw(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _names(returned: tuple[str, ...]) -> set[str]:
    return set(returned[2::3]) if "AS" in returned else set(returned)


@pytest.mark.parametrize("layout", [HashLayout(), JsonLayout()], ids=["hash", "json"])
def test_a_read_of_one_kind_fetches_that_kinds_fields_and_never_the_user(layout: object) -> None:
    assert isinstance(layout, (HashLayout, JsonLayout))
    interventions = _names(layout.returned(INTERVENTIONS))
    reflections = _names(layout.returned(REFLECTIONS))
    either = _names(layout.returned(None))
    assert {"kind", "intervention_text", "task", "outcome", "agent_id"} <= interventions
    assert not {"text", "source_ids", "user_id"} & interventions
    assert {"kind", "text", "source_ids"} <= reflections
    assert not {"intervention_text", "outcome", "user_id"} & reflections
    assert either == interventions | reflections
    # Both kinds at once read as any kind.
    assert _names(layout.returned(INTERVENTIONS | REFLECTIONS)) == either


def test_a_hash_read_takes_each_time_from_its_iso_twin_only() -> None:
    fetched = set(HashLayout().returned(INTERVENTIONS))
    assert {"created_at_iso", "expires_at_iso", "updated_at_iso"} <= fetched
    assert not {"created_at", "expires_at", "updated_at"} & fetched
    # JSON keeps the twin only when the number is not exact: it needs both.
    assert {"created_at", "created_at_iso"} <= _names(JsonLayout().returned(INTERVENTIONS))


@pytest.mark.parametrize("twin_first", [False, True])
def test_a_row_reads_a_time_from_its_iso_twin_in_either_order(twin_first: bool) -> None:
    seconds = (b"created_at", repr(round(EXACT.timestamp(), 2)).encode())
    twin = (b"created_at_iso", EXACT.isoformat().encode())
    others = [(b"__dist", b"0.25"), (b"kind", b"intervention"), (b"task", b"walk")]
    others.append((b"intervention_text", b"Step outside."))
    row = dict([*others, *((twin, seconds) if twin_first else (seconds, twin))])
    record = record_from_fields("u", "r1", row)
    assert record == Intervention(
        id="r1", user_id="u", intervention_text="Step outside.", task="walk", created_at=EXACT
    )


@pytest.mark.parametrize("twin", [{}, {"created_at_iso": None}], ids=["absent", "none"])
def test_a_row_without_a_twin_reads_the_seconds(twin: dict[str, None]) -> None:
    # An HMGET answers a field the hash lacks with None.
    fields = {"kind": "reflection", "text": "Likes walks.", "created_at": 1.5, **twin}
    record = record_from_fields("u", "r2", fields)
    assert isinstance(record, Reflection)
    assert record.created_at == datetime.fromtimestamp(1.5, timezone.utc)


def test_a_stored_hash_reads_back_with_names_as_bytes() -> None:
    record = Intervention(
        id="r3",
        user_id="u",
        intervention_text="Breathe in for four.",
        task="calm ~ down",  # a tag stored as hex
        outcome=Outcome.TASK_COMPLETED,
        created_at=EXACT,
        metadata={"mood": "low", "tries": 2},
        agent_id="coach",
        updated_at=EXACT + timedelta(hours=1),
        seen=3,
        outcome_history=(OutcomeChange(Outcome.TASK_COMPLETED, EXACT),),
    )
    flat = hash_fields(record)  # as the server hands a hash back: every name and value bytes
    row = {name.encode(): _raw(value) for name, value in zip(flat[::2], flat[1::2], strict=True)}
    assert record_from_fields("u", "r3", row) == record


@pytest.mark.parametrize("storage_type", ["hash", "json"])
async def test_a_search_of_interventions_returns_every_field_set(
    make_store: StoreFactory, storage_type: str
) -> None:
    store = make_store(storage_type=storage_type)
    await store.ensure_schema(EmbeddingSchema(model="m", dimension=4))
    record = Intervention(
        id="full",
        user_id="José Pérez",
        intervention_text="Name three things you can see.",
        task="grounding",
        context="panic on the bus",
        outcome=Outcome.USER_ENGAGED,
        created_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2))),
        metadata={"channel": "voice", "minutes": 3, "first": True},
        agent_id="coach",
        session_id="s-9",
        expires_at=EXACT + timedelta(days=400),
        updated_at=EXACT,
        seen=2,
        outcome_history=(OutcomeChange(Outcome.USER_ENGAGED, EXACT),),
    )
    vector = UnitVectors(np.array([[1.0, 0.0, 0.0, 0.0]], dtype=np.float32))
    await store.upsert(record.user_id, [record], vector)
    narrowed = SearchFilter().with_kind(RecordKind.INTERVENTION)
    [hit] = await store.search(record.user_id, UnitVectors(vector[0]), 3, narrowed)
    assert hit.record == record
    page = await store.list(record.user_id, narrowed, 10)
    assert page.items == (record,)
