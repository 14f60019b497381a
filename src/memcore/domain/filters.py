"""Search and listing filters: which of one user's memories a query may return.

A condition exists for every field the field table indexes (:mod:`memcore.domain.fields`):
a new tag or number field is filterable without a change here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from memcore.domain.fields import Index, Value, canonical, indexed_fields
from memcore.domain.outcome import Outcome, RecordKind
from memcore.domain.records import Intervention, MemoryRecord, MetadataValue, Reflection
from memcore.errors import ValidationError

__all__ = ["FILTERABLE", "SearchFilter", "metadata_equal", "range_keys"]

FILTERABLE = {
    name: spec
    for name, spec in indexed_fields(Intervention, Reflection).items()
    if name != "user_id"  # the user is every store call's own argument, not a filter
}
"""The fields a filter can name: every indexed field but the user id."""


def range_keys(name: str) -> tuple[str, str]:
    """The conditions on a number field: ``created_at`` -> ``created_after``, ``created_before``."""
    stem = name.removesuffix("_at")
    return f"{stem}_after", f"{stem}_before"


_RANGES = {
    key: (name, end)
    for name, spec in FILTERABLE.items()
    if spec.about.index is Index.NUMBER
    for end, key in enumerate(range_keys(name))
}
"""Range condition -> (number field, 0 for the inclusive start or 1 for the exclusive end)."""

_ENUMS: dict[Value, type[Outcome | RecordKind]] = {
    Value.OUTCOME: Outcome,
    Value.KIND: RecordKind,
}
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True, init=False)
class SearchFilter:
    """Conditions a record must all meet (AND); an unset condition matches everything.

    Build it with keyword conditions, one per indexed field (:data:`FILTERABLE`):

    - a tag field (``kind``, ``outcome``, ``task``...): ``task="walk"`` for one value, or
      the field name plus ``s`` for any of several (``outcomes=[...]``, OR);
    - a number field (``created_at``): ``created_after`` (inclusive) and/or
      ``created_before`` (exclusive), the field's name without ``_at``;
    - ``metadata``: every key is present with exactly this value (``1`` and ``True``
      differ).

    A record without the field (a reflection has no outcome) never meets a condition on
    it. :meth:`parse` builds one from caller input and names a bad key or value.
    """

    tags: Mapping[str, frozenset[Any]]
    """Tag field -> the values it may have."""
    ranges: Mapping[str, tuple[datetime | None, datetime | None]]
    """Number field -> (from, inclusive; until, exclusive)."""
    metadata: Mapping[str, MetadataValue] = field(hash=False)

    def __init__(
        self, *, metadata: Mapping[str, MetadataValue] | None = None, **conditions: Any
    ) -> None:
        tags: dict[str, frozenset[Any]] = {}
        ranges: dict[str, list[datetime | None]] = {}
        for key, value in conditions.items():
            if key in FILTERABLE and FILTERABLE[key].about.index is Index.TAG:
                if value is not None:
                    tags[key] = frozenset({_canonical(value)})
            elif key.endswith("s") and key[:-1] in FILTERABLE:
                if value:
                    tags[key[:-1]] = frozenset(map(_canonical, value))
            elif key in _RANGES:
                name, end = _RANGES[key]
                if value is not None:
                    ranges.setdefault(name, [None, None])[end] = value
            else:
                raise TypeError(f"unknown filter condition {key!r}")
        object.__setattr__(self, "tags", MappingProxyType(tags))
        object.__setattr__(
            self, "ranges", MappingProxyType({k: (v[0], v[1]) for k, v in ranges.items()})
        )
        wanted = {key: _canonical(value) for key, value in (metadata or {}).items()}
        object.__setattr__(self, "metadata", MappingProxyType(wanted))

    def __hash__(self) -> int:
        return hash((frozenset(self.tags.items()), frozenset(self.ranges.items())))

    @classmethod
    def parse(cls, value: SearchFilter | Mapping[str, Any] | None) -> SearchFilter:
        """Build a filter from a mapping such as ``{"outcome": "task_completed"}``.

        Accepts the keyword conditions above. Unknown keys and values of the wrong type
        raise :class:`~memcore.errors.ValidationError` naming them.
        """
        if value is None:
            return _NO_FILTER
        if isinstance(value, SearchFilter):
            return value
        if not isinstance(value, Mapping):
            raise ValidationError("filters", "must be a SearchFilter or a mapping")
        conditions = {
            str(key): _condition(str(key), given, value)
            for key, given in value.items()
            if given is not None  # an unset condition
        }
        return cls(**conditions)

    def within(self, **values: Any) -> SearchFilter:
        """This filter with each tag field named held to one value (replacing any
        condition on it), e.g. ``within(agent_id="coach")``.
        """
        tags = {**self.tags, **{name: frozenset({_canonical(v)}) for name, v in values.items()}}
        narrowed = object.__new__(SearchFilter)
        object.__setattr__(narrowed, "tags", MappingProxyType(tags))
        object.__setattr__(narrowed, "ranges", self.ranges)
        object.__setattr__(narrowed, "metadata", self.metadata)
        return narrowed

    def with_kind(self, kind: RecordKind) -> SearchFilter:
        """This filter narrowed to one kind; a conflicting kind raises ValidationError."""
        wanted = self.tags.get("kind")
        if wanted is not None and kind not in wanted:
            raise ValidationError("filters.kind", f"conflicts with a search for {kind.value}s")
        if wanted == frozenset({kind}):
            return self
        return self.within(kind=kind)

    @property
    def is_empty(self) -> bool:
        """True when the filter matches every record."""
        return not (self.tags or self.ranges or self.metadata)

    def matches(self, record: MemoryRecord) -> bool:
        """The reference semantics every store must reproduce."""
        for name, values in self.tags.items():
            if getattr(record, name, _MISSING) not in values:
                return False
        for name, (start, end) in self.ranges.items():
            value = getattr(record, name, None)
            if value is None or (start is not None and value < start):
                return False
            if end is not None and value >= end:
                return False
        return all(
            key in record.metadata and metadata_equal(record.metadata[key], value)
            for key, value in self.metadata.items()
        )


_MISSING = object()
_NO_FILTER = SearchFilter()
_KNOWN = frozenset(
    {"metadata"}
    | {name for name, spec in FILTERABLE.items() if spec.about.index is Index.TAG}
    | {f"{name}s" for name, spec in FILTERABLE.items() if spec.about.index is Index.TAG}
    | set(_RANGES)
)


def _condition(name: str, given: Any, conditions: Mapping[str, Any]) -> Any:
    """The value of one parsed condition, checked against the field it names."""
    if name == "metadata":
        return _typed(given, Mapping, "filters.metadata")
    if name in FILTERABLE and FILTERABLE[name].about.index is Index.TAG:
        return _tag_value(name, given, f"filters.{name}")
    if name.endswith("s") and name[:-1] in FILTERABLE:
        tag = name[:-1]
        if tag in conditions:
            raise ValidationError(f"filters.{tag}", f"give {tag} or {name}, not both")
        return [
            _tag_value(tag, item, f"filters.{name}") for item in _listed(given, f"filters.{name}")
        ]
    if name in _RANGES:
        return _typed(given, datetime, f"filters.{name}")
    raise ValidationError(f"filters.{name}", f"unknown filter field; known: {sorted(_KNOWN)}")


def _canonical(value: Any) -> Any:
    """Text values in NFC, as :mod:`memcore.validation` stores them; others as given."""
    return canonical(value) if isinstance(value, str) else value


def metadata_equal(stored: MetadataValue, wanted: MetadataValue) -> bool:
    """Equality that tells ``True`` from ``1`` and ``1`` from ``1.0``: types must agree."""
    return type(stored) is type(wanted) and stored == wanted


def _tag_value(name: str, value: Any, at: str) -> Any:
    enum = _ENUMS.get(FILTERABLE[name].about.value)
    if enum is None:
        return _typed(value, str, at)
    if isinstance(value, enum):
        return value
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValidationError(at, f"{value!r} is not one of: {allowed}") from None


def _typed(value: Any, kind: type, at: str) -> Any:
    if not isinstance(value, kind):
        raise ValidationError(at, f"must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _listed(value: Any, at: str) -> Iterable[Any]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValidationError(at, "must be a list of values")
    return list(value)
