"""Records to and from plain JSON-ready dicts: the one wire form for snapshots, exports,
outbox journals and backends that store documents.

Every field is written under its own name, converted by its value kind in the field
table (:mod:`memcore.domain.fields`); ``kind`` says which record it is. Reading builds
the record by field name, never by position; a field missing from the data (written
before the field existed) takes the field's default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from memcore.domain.fields import Value, fields_of
from memcore.domain.outcome import Outcome, OutcomeChange, RecordKind
from memcore.domain.records import RECORD_TYPES, MemoryRecord

__all__ = ["record_from_dict", "record_to_dict"]

_TO_JSON: Mapping[Value, Callable[[Any], Any]] = {
    Value.OUTCOME: lambda outcome: outcome.value,
    Value.KIND: lambda kind: kind.value,
    Value.TIME: lambda time: time.isoformat(),
    Value.METADATA: dict,
    Value.RECORD_IDS: list,
    Value.OUTCOME_HISTORY: lambda history: [
        [change.outcome.value, change.at.isoformat()] for change in history
    ],
}
_FROM_JSON: Mapping[Value, Callable[[Any], Any]] = {
    Value.OUTCOME: Outcome,
    Value.KIND: RecordKind,
    Value.TIME: datetime.fromisoformat,
    Value.METADATA: lambda metadata: metadata or {},
    Value.RECORD_IDS: tuple,
    Value.OUTCOME_HISTORY: lambda history: tuple(
        OutcomeChange(Outcome(outcome), datetime.fromisoformat(at)) for outcome, at in history
    ),
}


def _same(value: Any) -> Any:
    return value


def _from_json(kind: Value, value: Any) -> Any:
    return None if value is None else _FROM_JSON.get(kind, _same)(value)


def record_to_dict(record: MemoryRecord) -> dict[str, Any]:
    """Return ``record`` as a dict of JSON types; ``kind`` says which record it is."""
    data: dict[str, Any] = {"kind": record.kind.value}
    for spec in fields_of(type(record)):
        value = getattr(record, spec.name)
        data[spec.name] = None if value is None else _TO_JSON.get(spec.about.value, _same)(value)
    return data


def record_from_dict(data: Mapping[str, Any]) -> MemoryRecord:
    """Inverse of :func:`record_to_dict` (raises ``KeyError``/``ValueError`` on bad data)."""
    record_type = RECORD_TYPES[RecordKind(data["kind"])]
    values = {
        spec.name: _from_json(spec.about.value, data[spec.name])
        for spec in fields_of(record_type)
        if spec.name in data or not spec.has_default
    }
    return record_type(**values)
