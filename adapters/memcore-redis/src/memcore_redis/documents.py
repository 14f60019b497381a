"""Records to and from their stored fields, by the field table (see :mod:`.encoding`).

:func:`hash_fields` gives a hash's fields as text, :func:`json_document` a RedisJSON
document with JSON types; :func:`record_from_fields` reads either back by field name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from memcore.domain import MemoryRecord, Outcome, RecordKind
from memcore.domain.fields import KIND, FieldSpec, Value, fields_of
from memcore.domain.records import RECORD_TYPES
from memcore_redis.encoding import (
    ISO_SUFFIX,
    METADATA_TAGS,
    TAG_SEPARATOR,
    exact_in_seconds,
    from_seconds,
    is_tag,
    metadata_token,
    tag_value,
    text_from_tag,
)

__all__ = ["hash_fields", "json_document", "record_from_fields"]

_AS_TEXT: Mapping[Value, Callable[[Any], Any]] = {
    Value.TIME: lambda time: repr(time.timestamp()),
    Value.METADATA: lambda metadata: orjson.dumps(dict(metadata)),
    Value.RECORD_IDS: ",".join,
}
_AS_JSON: Mapping[Value, Callable[[Any], Any]] = {
    Value.TIME: lambda time: time.timestamp(),
    Value.METADATA: dict,
    Value.RECORD_IDS: list,
}


class _Slot(NamedTuple):
    """How one field of a record type is written (see :func:`_slots`)."""

    name: str
    indexed: bool  # written even when empty
    time: bool  # has an ISO twin
    as_text: Callable[[Any], Any]
    as_json: Callable[[Any], Any]


_SLOTS: dict[type, tuple[_Slot, ...]] = {}


def _slots(record_type: type) -> tuple[_Slot, ...]:
    """The stored fields of a record type but ``kind`` and the id, worked out once."""
    found = _SLOTS.get(record_type)
    if found is not None:
        return found
    slots = []
    for spec in fields_of(record_type):
        if spec.name == "id":
            continue
        kind = spec.about.value
        tag = is_tag(spec)
        slots.append(
            _Slot(
                spec.name,
                indexed=spec.about.index is not None,
                time=kind is Value.TIME,
                as_text=tag_value if tag else _AS_TEXT.get(kind, _same),
                as_json=tag_value if tag else _AS_JSON.get(kind, _same),
            )
        )
    found = _SLOTS[record_type] = tuple(slots)
    return found


def _metadata_tags(record: MemoryRecord) -> list[str]:
    return [metadata_token(key, value) for key, value in record.metadata.items()]


def hash_fields(record: MemoryRecord) -> list[Any]:
    """The hash fields of ``record`` as ``name, value, name, value...`` (vector aside):
    empty unindexed values left out.

    Times are always in ISO text too: RediSearch returns a hash field that is a NUMERIC
    attribute of the same name rounded to 12 digits (10 ms of a POSIX time).
    """
    flat: list[Any] = [KIND.name, record.kind.value]
    for slot in _slots(type(record)):
        value = getattr(record, slot.name)
        if value or slot.indexed:
            flat += [slot.name, slot.as_text(value)]
            if slot.time:
                flat += [slot.name + ISO_SUFFIX, value.isoformat()]
    tokens = _metadata_tags(record)
    if tokens:
        flat += [METADATA_TAGS, TAG_SEPARATOR.join(tokens)]
    return flat


def json_document(record: MemoryRecord) -> dict[str, Any]:
    """The RedisJSON document of ``record`` (vector aside): empty unindexed values left
    out, a time's ISO text only when the number cannot give it back exactly.
    """
    document: dict[str, Any] = {KIND.name: record.kind.value}
    for slot in _slots(type(record)):
        value = getattr(record, slot.name)
        if value or slot.indexed:
            document[slot.name] = slot.as_json(value)
            if slot.time and not exact_in_seconds(value):
                document[slot.name + ISO_SUFFIX] = value.isoformat()
    tokens = _metadata_tags(record)
    if tokens:
        document[METADATA_TAGS] = tokens
    return document


def _same(value: Any) -> Any:
    return value


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _metadata(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else orjson.loads(value)


def _ids(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else tuple(_text(value).split(","))


def _from_tag(spec: FieldSpec, raw: Any) -> Any:
    text = text_from_tag(_text(raw))
    return Outcome(text) if spec.about.value is Value.OUTCOME else text


_FROM_STORED: Mapping[Value, Callable[[Any], Any]] = {
    Value.METADATA: _metadata,
    Value.RECORD_IDS: _ids,
}


def record_from_fields(user_id: str, record_id: str, fields: Mapping[str, Any]) -> MemoryRecord:
    """The record of ``user_id`` stored under ``record_id`` with ``fields`` (name -> value as
    :func:`hash_fields` or :func:`json_document` wrote it, text as ``str`` or ``bytes``).
    """
    record_type = RECORD_TYPES[RecordKind(_text(fields["kind"]))]
    values: dict[str, Any] = {"id": record_id, "user_id": user_id}
    for spec in fields_of(record_type):
        raw = fields.get(spec.name)
        if spec.name in values or (raw is None and spec.has_default):
            continue
        if spec.about.value is Value.TIME:
            iso = fields.get(spec.name + ISO_SUFFIX)
            values[spec.name] = (
                datetime.fromisoformat(_text(iso)) if iso else from_seconds(float(raw or 0))
            )
        else:
            convert: Callable[[Any], Any] = _FROM_STORED.get(spec.about.value, _text)
            values[spec.name] = _from_tag(spec, raw) if is_tag(spec) else convert(raw)
    return record_type(**values)
