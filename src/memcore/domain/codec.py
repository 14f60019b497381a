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
from memcore.domain.outcome import Outcome, RecordKind
from memcore.domain.records import RECORD_TYPES, MemoryRecord

__all__ = ["record_from_dict", "record_to_dict"]

_TO_JSON: Mapping[Value, Callable[[Any], Any]] = {
    Value.OUTCOME: lambda outcome: outcome.value,
    Value.KIND: lambda kind: kind.value,
    Value.TIME: lambda time: time.isoformat(),
    Value.METADATA: dict,
    Value.RECORD_IDS: list,
}
_FROM_JSON: Mapping[Value, Callable[[Any], Any]] = {
    Value.OUTCOME: Outcome,
    Value.KIND: RecordKind,
    Value.TIME: datetime.fromisoformat,
    Value.METADATA: lambda metadata: metadata or {},
    Value.RECORD_IDS: tuple,
}


def _same(value: Any) -> Any:
    return value


def record_to_dict(record: MemoryRecord) -> dict[str, Any]:
    """Return ``record`` as a dict of JSON types; ``kind`` says which record it is."""
    data: dict[str, Any] = {"kind": record.kind.value}
    for spec in fields_of(type(record)):
        data[spec.name] = _TO_JSON.get(spec.about.value, _same)(getattr(record, spec.name))
    return data


def record_from_dict(data: Mapping[str, Any]) -> MemoryRecord:
    """Inverse of :func:`record_to_dict` (raises ``KeyError``/``ValueError`` on bad data)."""
    record_type = RECORD_TYPES[RecordKind(data["kind"])]
    values = {
        spec.name: _FROM_JSON.get(spec.about.value, _same)(data[spec.name])
        for spec in fields_of(record_type)
        if spec.name in data or not spec.has_default
    }
    return record_type(**values)
