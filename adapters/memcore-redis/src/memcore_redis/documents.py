"""Records to and from their stored fields, by the field table (see :mod:`.encoding`).

:func:`hash_fields` gives a hash's fields as text, :func:`json_document` a RedisJSON
document with JSON types; :func:`record_from_fields` reads either back by field name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from memcore.domain import MemoryRecord, Outcome, OutcomeChange, RecordKind
from memcore.domain.fields import KIND, Value, fields_of
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

__all__ = [
    "hash_changes",
    "hash_fields",
    "json_changes",
    "json_document",
    "record_from_fields",
]


def _same(value: Any) -> Any:
    return value


def _history(history: Any) -> list[list[str]]:
    return [[change.outcome.value, change.at.isoformat()] for change in history]


_AS_TEXT: Mapping[Value, Callable[[Any], Any]] = {
    Value.TIME: lambda time: repr(time.timestamp()),
    Value.METADATA: lambda metadata: orjson.dumps(dict(metadata)),
    Value.RECORD_IDS: ",".join,
    Value.OUTCOME_HISTORY: lambda history: orjson.dumps(_history(history)),
}
_AS_JSON: Mapping[Value, Callable[[Any], Any]] = {
    Value.TIME: lambda time: time.timestamp(),
    Value.METADATA: dict,
    Value.RECORD_IDS: list,
    Value.OUTCOME_HISTORY: _history,
}


class _Slot(NamedTuple):
    """How one field of a record type is written (see :func:`_slots`)."""

    name: str
    indexed: bool  # written even when empty
    default: Any  # an unindexed value equal to it is left out
    time: bool  # has an ISO twin
    names: tuple[str, ...]  # every stored field it may write
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
        time = kind is Value.TIME
        names = (spec.name, spec.name + ISO_SUFFIX) if time else (spec.name,)
        slots.append(
            _Slot(
                spec.name,
                indexed=spec.about.index is not None,
                default=spec.default,
                time=time,
                names=(*names, METADATA_TAGS) if spec.name == "metadata" else names,
                as_text=tag_value if tag else _AS_TEXT.get(kind, _same),
                as_json=tag_value if tag else _AS_JSON.get(kind, _same),
            )
        )
    found = _SLOTS[record_type] = tuple(slots)
    return found


_BY_NAME: Mapping[str, _Slot] = {
    slot.name: slot for record_type in RECORD_TYPES.values() for slot in _slots(record_type)
}
"""Every stored field's slot by name (a name means the same in both record types)."""


def _metadata_tags(metadata: Mapping[str, Any]) -> list[str]:
    return [metadata_token(key, value) for key, value in metadata.items()]


def hash_fields(record: MemoryRecord) -> list[Any]:
    """The hash fields of ``record`` as ``name, value, name, value...`` (vector aside):
    unset (``None``) values, and unindexed ones empty or at their default, left out.

    Times are always in ISO text too: RediSearch returns a hash field that is a NUMERIC
    attribute of the same name rounded to 12 digits (10 ms of a POSIX time).
    """
    flat: list[Any] = [KIND.name, record.kind.value]
    for slot in _slots(type(record)):
        flat += _hash_slot(slot, getattr(record, slot.name))
    flat += _hash_tags(record.metadata)
    return flat


def _left_out(slot: _Slot, value: Any) -> bool:
    return value is None or (not slot.indexed and (not value or value == slot.default))


def _hash_slot(slot: _Slot, value: Any) -> list[Any]:
    if _left_out(slot, value):
        return []
    if slot.time:
        return [slot.name, slot.as_text(value), slot.name + ISO_SUFFIX, value.isoformat()]
    return [slot.name, slot.as_text(value)]


def _hash_tags(metadata: Mapping[str, Any]) -> list[Any]:
    tokens = _metadata_tags(metadata)
    return [METADATA_TAGS, TAG_SEPARATOR.join(tokens)] if tokens else []


def json_document(record: MemoryRecord) -> dict[str, Any]:
    """The RedisJSON document of ``record`` (vector aside): unset values, and unindexed
    ones empty or at their default, left out; a time's ISO text only when the number
    cannot give it back exactly.
    """
    document: dict[str, Any] = {KIND.name: record.kind.value}
    for slot in _slots(type(record)):
        document.update(_json_slot(slot, getattr(record, slot.name)))
    tokens = _metadata_tags(record.metadata)
    if tokens:
        document[METADATA_TAGS] = tokens
    return document


def _json_slot(slot: _Slot, value: Any) -> dict[str, Any]:
    if _left_out(slot, value):
        return {}
    if slot.time and not exact_in_seconds(value):
        return {slot.name: slot.as_json(value), slot.name + ISO_SUFFIX: value.isoformat()}
    return {slot.name: slot.as_json(value)}


def hash_changes(values: Mapping[str, Any]) -> tuple[list[Any], list[str]]:
    """The hash fields that give a stored record ``values`` (field name -> new value) as
    :func:`hash_fields` writes them (``name, value, ...``), and the fields to delete.
    """
    flat: list[Any] = []
    gone: list[str] = []
    for name, value in values.items():
        slot = _BY_NAME[name]
        written = _hash_slot(slot, value)
        if name == "metadata":
            written += _hash_tags(value)
        flat += written
        if len(written) < 2 * len(slot.names):  # some of its fields emptied
            gone += [field for field in slot.names if field not in written[::2]]
    return flat, gone


def json_changes(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The document fields that give a stored record ``values`` as :func:`json_document`
    writes them, and the fields to delete.
    """
    written: dict[str, Any] = {}
    gone: list[str] = []
    for name, value in values.items():
        slot = _BY_NAME[name]
        fields = _json_slot(slot, value)
        if name == "metadata" and value:
            fields[METADATA_TAGS] = _metadata_tags(value)
        written.update(fields)
        gone += [field for field in slot.names if field not in fields]
    return written, gone


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _metadata(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else orjson.loads(value)


def _ids(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else tuple(_text(value).split(","))


def _tag(raw: Any) -> str:
    return text_from_tag(raw.decode() if isinstance(raw, bytes) else raw)


_OUTCOMES: Mapping[Any, Outcome] = {
    form: outcome for outcome in Outcome for form in (outcome.value, outcome.value.encode())
}


def _outcome(raw: Any) -> Outcome:
    return _OUTCOMES.get(raw) or Outcome(_tag(raw))


def _changes(value: Any) -> tuple[OutcomeChange, ...]:
    pairs = value if isinstance(value, list) else orjson.loads(value)
    return tuple(OutcomeChange(Outcome(o), datetime.fromisoformat(at)) for o, at in pairs)


_FROM_STORED: Mapping[Value, Callable[[Any], Any]] = {
    Value.METADATA: _metadata,
    Value.RECORD_IDS: _ids,
    Value.OUTCOME_HISTORY: _changes,
    Value.COUNT: int,
}


class _Reader(NamedTuple):
    """How one stored field is read back into a record's attribute (see :data:`_READERS`)."""

    attribute: str
    convert: Callable[[Any], Any]
    twin: Any = None  # a time's POSIX seconds: the name of its ISO twin, read if it has a value


def _seconds(raw: Any) -> datetime:
    return from_seconds(float(raw))


def _iso(raw: Any) -> datetime:
    return datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw)


def _readers(encode: Callable[[str], Any]) -> dict[Any, _Reader]:
    """Every stored field's reader by its name as ``encode`` gives it; the id, the user
    and the kind are not read from fields.
    """
    readers: dict[Any, _Reader] = {}
    for spec in {spec.name: spec for t in RECORD_TYPES.values() for spec in fields_of(t)}.values():
        kind, name = spec.about.value, spec.name
        if name in {"id", "user_id"}:
            continue
        if kind is Value.TIME:
            twin = encode(name + ISO_SUFFIX)
            readers[encode(name)] = _Reader(name, _seconds, twin)
            readers[twin] = _Reader(name, _iso)
        elif is_tag(spec):
            readers[encode(name)] = _Reader(name, _outcome if kind is Value.OUTCOME else _tag)
        else:
            readers[encode(name)] = _Reader(name, _FROM_STORED.get(kind, _text))
    return readers


_READERS: Mapping[Any, _Reader] = _readers(str) | _readers(str.encode)
"""Every stored field's reader by name, as text and as the raw bytes of a hash row (a
name means the same in both record types: see :data:`_BY_NAME`)."""

_KINDS: Mapping[Any, type[MemoryRecord]] = {
    form: record_type
    for kind, record_type in RECORD_TYPES.items()
    for form in (kind.value, kind.value.encode())
}


def record_from_fields(
    user_id: str, record_id: str, fields: Mapping[str, Any] | Mapping[bytes, Any]
) -> MemoryRecord:
    """The record of ``user_id`` stored under ``record_id`` with ``fields`` (name -> value as
    :func:`hash_fields` or :func:`json_document` wrote it, names and text as ``str`` or
    ``bytes``). A field absent or ``None`` keeps its default (a record written before
    the field existed reads back without it); names it does not know, such as a
    search's distance, are left alone.
    """
    raw_kind = fields.get("kind") or fields.get(b"kind")  # type: ignore[call-overload]
    record_type = _KINDS.get(raw_kind) or RECORD_TYPES[RecordKind(_text(raw_kind))]
    values: dict[str, Any] = {"id": record_id, "user_id": user_id}
    readers = _READERS
    for name, raw in fields.items():
        reader = readers.get(name)
        if reader is None or raw is None:
            continue
        if reader.twin is None or fields.get(reader.twin) is None:
            values[reader.attribute] = reader.convert(raw)
    return record_type(**values)
