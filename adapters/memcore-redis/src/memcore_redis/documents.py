"""Records to and from their stored fields, by the field table (see :mod:`.encoding`).

:func:`hash_fields` gives a hash's fields as text, :func:`json_document` a RedisJSON
document with JSON types; :func:`record_from_fields` reads either back by field name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

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


def _as_stored(spec: FieldSpec, value: Any, convert: Mapping[Value, Callable[[Any], Any]]) -> Any:
    """A field's stored value: a tag's text, else converted by its value kind."""
    if is_tag(spec):
        return tag_value(value)
    return convert.get(spec.about.value, _same)(value)


def _values(record: MemoryRecord) -> list[tuple[FieldSpec, Any]]:
    """``(field, value)`` for every field stored: ``kind`` and the record's own but the id,
    empty unindexed values left out.
    """
    values: list[tuple[FieldSpec, Any]] = [(KIND, record.kind)]
    for spec in fields_of(type(record)):
        value = getattr(record, spec.name)
        if spec.name != "id" and (value or spec.about.index is not None):
            values.append((spec, value))
    return values


def _extras(record: MemoryRecord, *, always_iso: bool) -> list[tuple[str, Any]]:
    """The derived fields: times as ISO text (``always_iso``, or when the number cannot
    give them back exactly), and the metadata tokens.
    """
    extras: list[tuple[str, Any]] = [
        (spec.name + ISO_SUFFIX, value.isoformat())
        for spec, value in _values(record)
        if spec.about.value is Value.TIME and (always_iso or not exact_in_seconds(value))
    ]
    tokens = [metadata_token(key, value) for key, value in record.metadata.items()]
    if tokens:
        extras.append((METADATA_TAGS, tokens))
    return extras


def hash_fields(record: MemoryRecord) -> list[Any]:
    """The hash fields of ``record`` as ``name, value, name, value...`` (vector aside).

    Times are always in ISO text too: RediSearch returns a hash field that is a NUMERIC
    attribute of the same name rounded to 12 digits (10 ms of a POSIX time).
    """
    flat: list[Any] = []
    for spec, value in _values(record):
        flat += [spec.name, _as_stored(spec, value, _AS_TEXT)]
    for name, value in _extras(record, always_iso=True):
        flat += [name, TAG_SEPARATOR.join(value) if name == METADATA_TAGS else value]
    return flat


def json_document(record: MemoryRecord) -> dict[str, Any]:
    """The RedisJSON document of ``record`` (vector aside)."""
    document = {spec.name: _as_stored(spec, value, _AS_JSON) for spec, value in _values(record)}
    document.update(_extras(record, always_iso=False))
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
