"""Every record field, described once: the table the rest of memcore reads.

Each field of :class:`~memcore.Intervention` and :class:`~memcore.Reflection` carries, in
its dataclass metadata, an :class:`About`: what kind of value it holds (:class:`Value`),
whether it is part of the embedded text, whether it is content (``sensitive``: encrypted
at rest, never logged), how stores index it for filters (:class:`Index`), and the
:class:`~memcore.limits.Limits` attribute that bounds it. From that table:

- :mod:`memcore.domain.codec` writes and reads records as JSON, by field name;
- :mod:`memcore.validation` checks every field by its value kind and limit;
- :class:`~memcore.SearchFilter` accepts a condition on every indexed field;
- the encryption layer seals the sensitive fields, the logs leave them out;
- stores index the tag and number fields and encode the rest by name.

To add a field, declare it on the record with ``field(metadata=about(...))`` (and, for a
new kind of value, teach :mod:`.codec` and :mod:`memcore.validation` that kind); see
``docs/architecture.md``, "Add a field".
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = [
    "KIND",
    "About",
    "FieldSpec",
    "Index",
    "Value",
    "about",
    "canonical",
    "fields_of",
    "indexed_fields",
]

_KEY = "memcore"


class Value(str, Enum):
    """The kinds of value a field holds: each has one validation rule and one JSON form."""

    RECORD_ID = "record_id"
    """A record id: 1-128 characters of ``A-Z a-z 0-9 _ . : -``."""
    USER_ID = "user_id"
    """A user (or other scope) id: printable Unicode, NFC, no wildcards."""
    TEXT = "text"
    """A string, bounded by its limit; ``required`` ones are not blank."""
    OUTCOME = "outcome"
    """An :class:`~memcore.Outcome`; JSON holds its value."""
    KIND = "kind"
    """A :class:`~memcore.RecordKind`; JSON holds its value."""
    TIME = "time"
    """A timezone-aware datetime; JSON holds its ISO text."""
    METADATA = "metadata"
    """Flat ``str | int | float | bool`` values under ``[A-Za-z0-9_.-]`` keys."""
    RECORD_IDS = "record_ids"
    """A tuple of record ids; JSON holds a list."""
    COUNT = "count"
    """A positive integer; JSON holds the number."""
    OUTCOME_HISTORY = "outcome_history"
    """A tuple of :class:`~memcore.OutcomeChange`; JSON holds ``[outcome, ISO time]`` pairs."""


class Index(str, Enum):
    """How stores index a field so that filters can use it."""

    TAG = "tag"
    """Exact values: a filter gives one value or several (OR)."""
    NUMBER = "number"
    """An ordered value: a filter gives a range (``<name>_after`` / ``<name>_before``)."""


@dataclass(frozen=True)
class About:
    """What the table says of one field (set with :func:`about`)."""

    value: Value
    embedded: bool = False
    """Part of the text that is embedded: changing it means embedding the record again."""
    sensitive: bool = False
    """Memory content: encrypted at rest (metadata: values not kept in clear), never logged."""
    index: Index | None = None
    limit: str | None = None
    """The :class:`~memcore.limits.Limits` attribute that bounds its size."""
    required: bool = True
    """A text that must not be blank; a field whose default is ``None`` may be ``None``."""


def about(
    value: Value,
    *,
    embedded: bool = False,
    sensitive: bool = False,
    index: Index | None = None,
    limit: str | None = None,
    required: bool = True,
) -> dict[str, About]:
    """Dataclass field metadata describing a record field: ``field(metadata=about(...))``."""
    return {_KEY: About(value, embedded, sensitive, index, limit, required)}


@dataclass(frozen=True)
class FieldSpec:
    """One field of one record type: its name, its :class:`About`, and its default value
    (``has_default`` false: a record cannot be built without it).
    """

    name: str
    about: About
    has_default: bool = False
    default: Any = None


def canonical(text: str) -> str:
    """``text`` in Unicode NFC, the one form user ids and tag values are stored and
    compared in: an "é" typed composed or decomposed is one value.
    """
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


KIND = FieldSpec("kind", About(Value.KIND, index=Index.TAG))
"""The record's kind: not a dataclass field (each type has one), but a tag to filter on."""


_FIELDS: dict[type, tuple[FieldSpec, ...]] = {}


def fields_of(record_type: type) -> tuple[FieldSpec, ...]:
    """The described fields of a record type, in declaration order."""
    found = _FIELDS.get(record_type)
    if found is None:
        found = _FIELDS[record_type] = _described(record_type)
    return found


def _described(record_type: type) -> tuple[FieldSpec, ...]:
    specs = []
    for field in dataclasses.fields(record_type):
        described = field.metadata.get(_KEY)
        if not isinstance(described, About):
            continue
        if field.default_factory is not dataclasses.MISSING:
            specs.append(
                FieldSpec(field.name, described, has_default=True, default=field.default_factory())
            )
        elif field.default is not dataclasses.MISSING:
            specs.append(FieldSpec(field.name, described, has_default=True, default=field.default))
        else:
            specs.append(FieldSpec(field.name, described))
    return tuple(specs)


def indexed_fields(*record_types: type) -> Mapping[str, FieldSpec]:
    """Every indexed field of these record types (and ``kind``), by name."""
    found: dict[str, FieldSpec] = {KIND.name: KIND}
    for record_type in record_types:
        for spec in fields_of(record_type):
            if spec.about.index is not None:
                found.setdefault(spec.name, spec)
    return found
