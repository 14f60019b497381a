"""Search and listing filters: which of one user's memories a query may return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import MappingProxyType
from typing import Any

from memcore.domain.outcome import Outcome, RecordKind
from memcore.domain.records import Intervention, MemoryRecord, MetadataValue
from memcore.errors import ValidationError


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Conditions a record must all meet (AND); an unset condition matches everything.

    - ``kind``: interventions or reflections only.
    - ``outcomes``: the intervention's outcome is one of these (OR). Reflections have no
      outcome, so a non-empty ``outcomes`` only ever matches interventions.
    - ``task``: the intervention's task equals this string exactly.
    - ``created_after`` (inclusive) / ``created_before`` (exclusive): a time window.
    - ``metadata``: every key is present with exactly this value (``1`` and ``True`` differ).
    """

    kind: RecordKind | None = None
    outcomes: frozenset[Outcome] = frozenset()
    task: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    metadata: Mapping[str, MetadataValue] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcomes", frozenset(self.outcomes))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @classmethod
    def parse(cls, value: SearchFilter | Mapping[str, Any] | None) -> SearchFilter:
        """Build a filter from a mapping such as ``{"outcome": "task_completed"}``.

        Accepts every field name above plus ``outcome`` (one outcome). Unknown keys and
        values of the wrong type raise :class:`~memcore.errors.ValidationError` naming them.
        """
        if value is None:
            return _NO_FILTER
        if isinstance(value, SearchFilter):
            return value
        if not isinstance(value, Mapping):
            raise ValidationError("filters", "must be a SearchFilter or a mapping")
        unknown = sorted(str(key) for key in value if key not in _PARSED_FIELDS)
        if unknown:
            known = sorted(_PARSED_FIELDS - {"outcome"})
            raise ValidationError(f"filters.{unknown[0]}", f"unknown filter field; known: {known}")
        args = dict(value)
        if "outcome" in args:
            if "outcomes" in args:
                raise ValidationError("filters.outcome", "give outcome or outcomes, not both")
            args["outcomes"] = [args.pop("outcome")]
        return cls(
            kind=_parse_enum(RecordKind, args.get("kind"), "filters.kind"),
            outcomes=frozenset(
                _parse_enum(Outcome, item, "filters.outcomes")
                for item in _as_sequence(args.get("outcomes", ()), "filters.outcomes")
            ),
            task=_parse_optional(args.get("task"), str, "filters.task"),
            created_after=_parse_optional(
                args.get("created_after"), datetime, "filters.created_after"
            ),
            created_before=_parse_optional(
                args.get("created_before"), datetime, "filters.created_before"
            ),
            metadata=_parse_optional(args.get("metadata"), Mapping, "filters.metadata") or {},
        )

    def with_kind(self, kind: RecordKind) -> SearchFilter:
        """This filter narrowed to one kind; a conflicting kind raises ValidationError."""
        if self.kind not in (None, kind):
            raise ValidationError("filters.kind", f"conflicts with a search for {kind.value}s")
        if self.kind is kind:
            return self
        return SearchFilter(
            kind=kind,
            outcomes=self.outcomes,
            task=self.task,
            created_after=self.created_after,
            created_before=self.created_before,
            metadata=self.metadata,
        )

    @property
    def is_empty(self) -> bool:
        """True when the filter matches every record."""
        return self == _NO_FILTER

    def matches(self, record: MemoryRecord) -> bool:
        """The reference semantics every store must reproduce."""
        if self.kind is not None and record.kind is not self.kind:
            return False
        if (self.outcomes or self.task is not None) and not self._matches_intervention(record):
            return False
        if self.created_after is not None and record.created_at < self.created_after:
            return False
        if self.created_before is not None and record.created_at >= self.created_before:
            return False
        return all(
            key in record.metadata and metadata_equal(record.metadata[key], value)
            for key, value in self.metadata.items()
        )

    def _matches_intervention(self, record: MemoryRecord) -> bool:
        if not isinstance(record, Intervention):
            return False  # outcome and task exist on interventions only
        if self.outcomes and record.outcome not in self.outcomes:
            return False
        return self.task is None or record.task == self.task


#: The keys :meth:`SearchFilter.parse` accepts: every field, and ``outcome`` for one outcome.
_PARSED_FIELDS = frozenset(f.name for f in fields(SearchFilter)) | {"outcome"}


def metadata_equal(stored: MetadataValue, wanted: MetadataValue) -> bool:
    """Equality that tells ``True`` from ``1`` and ``1`` from ``1.0``: types must agree."""
    return type(stored) is type(wanted) and stored == wanted


def _parse_enum(enum: Any, value: Any, name: str) -> Any:
    if value is None or isinstance(value, enum):
        return value
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValidationError(name, f"{value!r} is not one of: {allowed}") from None


def _parse_optional(value: Any, kind: type, name: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise ValidationError(name, f"must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _as_sequence(value: Any, name: str) -> list[Any]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValidationError(name, "must be a list of outcomes")
    return list(value)


_NO_FILTER = SearchFilter()
