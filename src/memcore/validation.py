"""Every rule on user input, in one place. Each failure is a
:class:`~memcore.errors.ValidationError` naming the field; nothing is stored. The rule
for each single value is written in :mod:`memcore.value_rules` (re-exported here); this
module applies them to whole records, through the field table, and to filters.

The rules (limits are :class:`Limits`, configurable as ``MEMCORE_LIMITS__*``):

- **user id**: 1-128 characters of printable Unicode; not blank, no leading or trailing
  whitespace, no control or format characters (nor the line and paragraph separators
  U+2028, U+2029), no wildcards ``*`` ``?``. Anything else (``acme-corp``, ``a|b``,
  ``ünïcode``, ``x@y.z``) is a literal id. It is normalised to Unicode NFC first, so an
  ``é`` typed composed or decomposed is one user; so are tag values (``task``) and
  metadata text values, as stored and as filtered on.
- **agent id**, **session id** (the scopes within a user): the user id rule.
- **record id**: 1-128 characters from ``A-Z a-z 0-9 _ . : -``, starting with a letter
  or digit (ids go into keys; keep them boring).
- **texts**: ``intervention_text``/``text`` 1..``max_text_chars`` characters and not blank;
  ``context`` 0..``max_context_chars``; ``task`` 1..``max_task_chars``; no NUL characters,
  no lone surrogates (every text must encode as UTF-8).
- **outcome**: one of :class:`~memcore.Outcome` (its value or the member).
- **created_at** (and every time): a timezone-aware datetime between 1970 and 2200;
  ``updated_at`` may also be ``None`` (never updated).
- **seen**: a positive integer.
- **outcome history**: at most ``max_outcome_history`` (outcome, time) changes.
- **metadata**: at most ``max_metadata_keys`` keys matching ``[A-Za-z0-9_.-]{1,64}``;
  values ``str`` (at most ``max_metadata_value_chars``), ``int`` (64-bit), finite
  ``float`` or ``bool``. No ``None``, no nesting.
- **k**: an ``int`` in ``1..max_k``; **batch**: 1..``max_batch`` items.
- **embeddings**: a real floating-point array of shape ``(n, dimension)``, finite, each
  row with a non-zero norm (:func:`unit_vectors`, written in :mod:`memcore.vectors`).
- **filters**: known fields only, each value of the right type (see :class:`~memcore.SearchFilter`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from memcore.domain import (
    Intervention,
    MemoryRecord,
    OutcomeChange,
    RecordKind,
    Reflection,
    SearchFilter,
)
from memcore.domain.changes import UPDATABLE
from memcore.domain.fields import FieldSpec, Index, Value, canonical, fields_of
from memcore.domain.filters import FILTERABLE, range_keys
from memcore.domain.records import RECORD_TYPES
from memcore.errors import ValidationError
from memcore.limits import DEFAULT_LIMITS, Limits
from memcore.value_rules import (
    INT64,
    validate_batch_size,
    validate_created_at,
    validate_k,
    validate_metadata,
    validate_outcome,
    validate_page,
    validate_record_id,
    validate_record_ids,
    validate_score,
    validate_text,
    validate_user_id,
)
from memcore.vectors import squared_norms, unit_vector, unit_vectors

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "squared_norms",
    "unit_vector",
    "unit_vectors",
    "validate_batch_size",
    "validate_created_at",
    "validate_filters",
    "validate_intervention",
    "validate_k",
    "validate_metadata",
    "validate_outcome",
    "validate_page",
    "validate_record_id",
    "validate_record_ids",
    "validate_reflection",
    "validate_scope",
    "validate_score",
    "validate_text",
    "validate_update_values",
    "validate_user_id",
]

RecordT = TypeVar("RecordT", bound=MemoryRecord)


def validate_scope(agent_id: object, session_id: object) -> tuple[str | None, str | None]:
    """Return ``(agent_id, session_id)`` in NFC; each is ``None`` or follows the user id
    rule, else raise naming it.
    """
    return (
        None if agent_id is None else _user_id_rule(agent_id, "agent_id"),
        None if session_id is None else _user_id_rule(session_id, "session_id"),
    )


def _user_id_rule(value: object, name: str) -> str:
    try:
        return validate_user_id(value)
    except ValidationError as exc:
        if name == "user_id":
            raise
        raise ValidationError(name, exc.reason) from None


def _record_ids_rule(value: object, name: str, limit: int) -> tuple[str, ...]:
    ids = validate_record_ids(value, name)
    if len(ids) > limit:
        raise ValidationError(name, f"must have at most {limit} ids")
    return tuple(ids)


def _count_rule(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < INT64:
        raise ValidationError(name, "must be a positive integer")
    return value


def _history_rule(value: object, name: str, limit: int) -> tuple[OutcomeChange, ...]:
    if not isinstance(value, tuple) or len(value) > limit:
        raise ValidationError(name, f"must be a tuple of at most {limit} outcome changes")
    for change in value:
        if not isinstance(change, OutcomeChange):
            raise ValidationError(name, "must hold OutcomeChange items")
        validate_outcome(change.outcome)
        validate_created_at(change.at, f"{name}.at")
    return value


def _limited(rule: Callable[[Any, str, int], object]) -> _Rule:
    return lambda value, name, limit, _: rule(value, name, limit)


_Rule = Callable[[Any, str, int, "Limits"], object]
_RULES: dict[Value, _Rule] = {
    Value.USER_ID: lambda value, name, _, __: _user_id_rule(value, name),
    Value.RECORD_ID: lambda value, name, _, __: validate_record_id(value, name),
    Value.OUTCOME: lambda value, _, __, ___: validate_outcome(value),
    Value.TIME: lambda value, name, _, __: validate_created_at(value, name),
    Value.METADATA: lambda value, name, _, limits: validate_metadata(value, limits, name),
    Value.RECORD_IDS: _limited(_record_ids_rule),
    Value.OUTCOME_HISTORY: _limited(_history_rule),
    Value.COUNT: lambda value, name, _, __: _count_rule(value, name),
}


_Check = Callable[[object], object]


def _rule(spec: FieldSpec, limits: Limits) -> _Check:
    """The check of the field ``spec`` under ``limits``: it takes a value and returns it
    as stored (e.g. normalised), or raises naming the field.
    """
    about, name = spec.about, spec.name
    limit = getattr(limits, about.limit) if about.limit else 0
    nullable = spec.has_default and spec.default is None  # unset (None) is a value of its own
    if about.value is Value.TEXT:
        required, tag = about.required, about.index is Index.TAG

        def check(value: object) -> object:
            if value is None and nullable:
                return None
            text = validate_text(value, name, limit, required=required)
            return canonical(text) if tag else text

        return check
    rule = _RULES[about.value]

    def check_value(value: object) -> object:
        return None if value is None and nullable else rule(value, name, limit, limits)

    return check_value


_FIELD_CHECKS: dict[tuple[type, int], tuple[Limits, dict[str, _Check]]] = {}
_MAX_FIELD_CHECKS = 64  # record types x limits objects in use: a few


def field_checks(record_type: type, limits: Limits) -> dict[str, _Check]:
    """Each field of ``record_type`` (by name, in declaration order) with its check under
    ``limits``: worked out once per record type and limits object, not on every record
    (found by the object's identity: hashing a pydantic model costs more than the checks).
    """
    key = (record_type, id(limits))
    found = _FIELD_CHECKS.get(key)
    if found is None or found[0] is not limits:  # new, or an id reused by another object
        if len(_FIELD_CHECKS) >= _MAX_FIELD_CHECKS:
            _FIELD_CHECKS.clear()
        checks = {spec.name: _rule(spec, limits) for spec in fields_of(record_type)}
        found = _FIELD_CHECKS[key] = (limits, checks)  # the object kept: its id stays its
    return found[1]


def validate_record(record: RecordT, limits: Limits = DEFAULT_LIMITS) -> RecordT:
    """Check every field of ``record`` by the field table; return it (with values as
    they are stored, e.g. normalised) or raise.
    """
    changed: dict[str, Any] = {}
    record_type: type = type(record)
    for name, check in field_checks(record_type, limits).items():
        value = getattr(record, name)
        checked = check(value)
        if checked is not value and checked != value:
            changed[name] = checked
    return dataclasses.replace(record, **changed) if changed else record


def validate_update_values(
    kind: RecordKind | None, values: Mapping[str, object], limits: Limits = DEFAULT_LIMITS
) -> dict[str, object]:
    """Return ``values`` (field name -> new value) checked as an update of a record of
    ``kind`` (``None``: a field both kinds have) may set them, else raise.
    """
    if not values:
        raise ValidationError("update", "give at least one field to change")
    allowed, record_type = _updatable(kind)
    checks = field_checks(record_type, limits)
    checked: dict[str, object] = {}
    for name, value in values.items():
        if name not in allowed:
            what = "records" if kind is None else f"{kind.value}s"
            raise ValidationError(name, f"cannot be changed by an update of {what}")
        checked[name] = checks[name](value)
    return checked


@functools.cache
def _updatable(kind: RecordKind | None) -> tuple[frozenset[str], type]:
    """The fields an update of ``kind`` (``None``: either kind) may set, and a record type
    whose rules check them.
    """
    kinds = list(RECORD_TYPES) if kind is None else [kind]
    return frozenset.intersection(*(UPDATABLE[each] for each in kinds)), RECORD_TYPES[kinds[0]]


def validate_intervention(record: object, limits: Limits = DEFAULT_LIMITS) -> Intervention:
    """Check every field of an :class:`~memcore.Intervention`; return it or raise."""
    if not isinstance(record, Intervention):
        raise ValidationError("record", f"must be an Intervention, not {type(record).__name__}")
    return validate_record(record, limits)


def validate_reflection(record: object, limits: Limits = DEFAULT_LIMITS) -> Reflection:
    """Check every field of a :class:`~memcore.Reflection`; return it or raise."""
    if not isinstance(record, Reflection):
        raise ValidationError("record", f"must be a Reflection, not {type(record).__name__}")
    return validate_record(record, limits)


FILTERS = "filters."
"""How errors name a filter's conditions: ``filters.task``."""


@functools.cache
def _filter_specs(prefix: str) -> dict[str, FieldSpec]:
    """Each filterable field's spec, named as errors name it (``prefix`` + its name)."""
    return {
        name: dataclasses.replace(spec, name=prefix + name) for name, spec in FILTERABLE.items()
    }


def validate_filters(
    filters: object,
    limits: Limits = DEFAULT_LIMITS,
    *,
    kind: RecordKind | None = None,
    prefix: str = FILTERS,
) -> SearchFilter:
    """Return ``filters`` as a :class:`~memcore.SearchFilter`, each value checked by the
    rule of the field it names, narrowed to ``kind`` if given. An error names the
    condition ``prefix`` + its name: ``""`` when the conditions are a call's own arguments
    (``what_worked(task=...)``).

    A dict of hashable values met before is answered from a small cache: agents repeat a
    few filters (``{"outcome": "task_completed"}``) on every search; ``None`` (no
    condition, the most common search) from one built at import.
    """
    if filters is None:
        return _UNFILTERED[kind]
    if isinstance(filters, dict):
        # The key holds each value's type: 1, 1.0 and True are equal, but not one filter.
        try:
            return _cached_filter(
                tuple(filters.items()), tuple(map(type, filters.values())), limits, kind, prefix
            )
        except TypeError:  # a list of values, a metadata mapping: checked every time
            pass
    checked = _checked_filter(filters, limits, prefix)
    return checked if kind is None else checked.with_kind(kind)


_UNFILTERED: dict[RecordKind | None, SearchFilter] = {
    None: SearchFilter.parse(None),
    **{kind: SearchFilter.parse(None).with_kind(kind) for kind in RecordKind},
}
"""The filter of no condition, narrowed to each kind: a filter is immutable, so shared."""


@functools.lru_cache(maxsize=256)
def _cached_filter(
    items: tuple[tuple[Any, Any], ...],
    types: tuple[type, ...],
    limits: Limits,
    kind: RecordKind | None,
    prefix: str,
) -> SearchFilter:
    del types  # part of the key only
    checked = _checked_filter(dict(items), limits, prefix)
    return checked if kind is None else checked.with_kind(kind)


def _checked_filter(filters: object, limits: Limits, prefix: str) -> SearchFilter:
    parsed = SearchFilter.parse(filters)  # type: ignore[arg-type]
    specs = _filter_specs(prefix)
    for name, values in parsed.tags.items():
        spec = specs[name]
        if spec.about.value is not Value.KIND:
            check = _rule(spec, limits)
            for value in values:
                check(value)
    for name, bounds in parsed.ranges.items():
        for key, bound in zip(range_keys(name), bounds, strict=True):
            if bound is not None:
                validate_created_at(bound, prefix + key)
    validate_metadata(parsed.metadata, limits, prefix + "metadata")
    return parsed
