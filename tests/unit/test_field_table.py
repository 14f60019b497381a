"""The field table: one description per field drives codec, validation, encryption,
filters and the stores. A field added through it round-trips everywhere.
"""

from __future__ import annotations

import dataclasses

import pytest

from memcore.domain import Intervention, RecordKind, Reflection, SearchFilter
from memcore.domain.codec import record_from_dict, record_to_dict
from memcore.domain.fields import Index, Value, fields_of
from memcore.domain.filters import FILTERABLE
from memcore.domain.records import RECORD_TYPES
from memcore.errors import ValidationError
from memcore.resilience.journal import decode_args, encode_args
from memcore.testing._suite import intervention
from memcore.testing.store_fields import MoodIntervention, moody
from memcore.validation import Limits, validate_intervention


@pytest.fixture
def _with_mood(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoders build MoodIntervention for interventions."""
    monkeypatch.setitem(RECORD_TYPES, RecordKind.INTERVENTION, MoodIntervention)


def test_every_field_of_both_records_is_described() -> None:
    for record_type in (Intervention, Reflection):
        described = {spec.name for spec in fields_of(record_type)}
        assert described == {f.name for f in dataclasses.fields(record_type)}


def test_filters_follow_the_indexed_fields() -> None:
    assert {name: spec.about.index for name, spec in FILTERABLE.items()} == {
        "kind": Index.TAG,
        "task": Index.TAG,
        "outcome": Index.TAG,
        "created_at": Index.NUMBER,
        "agent_id": Index.TAG,
        "session_id": Index.TAG,
        "expires_at": Index.NUMBER,
    }
    done = SearchFilter.parse({"outcomes": ["task_completed"], "task": "walk"})
    assert set(done.tags) == {"outcome", "task"}


def test_embedded_fields_are_what_the_embedding_text_holds() -> None:
    record = intervention("u", 1)
    for spec in fields_of(Intervention):
        if spec.about.value is not Value.TEXT:
            continue
        changed = dataclasses.replace(record, **{spec.name: "something else entirely"})
        moved = changed.embedding_text() != record.embedding_text()
        assert moved == spec.about.embedded, spec.name


@pytest.mark.usefixtures("_with_mood")
def test_an_added_field_round_trips_through_the_codec_and_journals() -> None:
    record = moody()
    data = record_to_dict(record)
    assert data["mood"] == record.mood
    assert record_from_dict(data) == record
    back = decode_args(encode_args({"records": [record]}))
    assert back["records"] == [record]
    # Data written before the field existed reads back with its default.
    old = {key: value for key, value in data.items() if key != "mood"}
    assert record_from_dict(old) == dataclasses.replace(record, mood="")


def test_an_added_field_is_validated_by_its_limit() -> None:
    too_long = dataclasses.replace(moody(), mood="x" * (Limits().max_task_chars + 1))
    with pytest.raises(ValidationError) as raised:
        validate_intervention(too_long)
    assert raised.value.field == "mood"
