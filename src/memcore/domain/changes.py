"""Updates of a stored record: what one sets, and the one rule for applying it.

:func:`apply_update` is the reference semantics every store's ``update`` follows (the
in-memory store calls it; the contract suite compares other stores with it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from memcore.domain.fields import fields_of
from memcore.domain.outcome import OutcomeChange, RecordKind
from memcore.domain.records import RECORD_TYPES, Intervention, MemoryRecord

__all__ = ["UPDATABLE", "RecordUpdate", "apply_update"]

_SET_BY_UPDATE = frozenset({"updated_at", "outcome_history", "seen"})
_SCOPES = frozenset({"agent_id", "session_id"})
_NO_SCOPE: Mapping[str, str] = MappingProxyType({})
_FIXED = frozenset({"id", "user_id", "agent_id", "session_id", "created_at", "expires_at"})

UPDATABLE: Mapping[RecordKind, frozenset[str]] = MappingProxyType(
    {
        kind: frozenset(
            spec.name for spec in fields_of(record_type) if spec.name not in _FIXED | _SET_BY_UPDATE
        )
        for kind, record_type in RECORD_TYPES.items()
    }
)
"""The fields an update may set, per kind: all but the identity and scope (``id``,
``user_id``, ``agent_id``, ``session_id``), ``created_at``, ``expires_at``, and what the
update itself
sets (``updated_at``, ``outcome_history``, ``seen``).
"""


@dataclass(frozen=True, slots=True)
class RecordUpdate:
    """A change to one record: new ``values`` by field name (validated), made ``at``.

    ``kind``: the kind the values belong to; a record of another kind is not the one
    meant (``None``: either kind, for fields both have). With ``guard``, the update
    applies only if the record's ``updated_at`` is still ``if_updated_at`` (the one the
    caller read): a read-modify-write that loses no concurrent update. ``seen_again``
    counts one more sighting of an intervention (a duplicate merged into it).
    ``create``: the record to store (with the update's vector) if none has the id, seen
    once, instead of applying the update; so concurrent writes of one new record count
    every sighting. ``scope``: the ``agent_id`` and/or ``session_id`` the record must
    have (a record of another scope, or unscoped, is not the one meant), checked by the
    store in the same atomic step as the update: an integration bound to agent A cannot
    change agent B's record of the same user.
    """

    id: str
    kind: RecordKind | None
    values: Mapping[str, Any]
    at: datetime
    history_limit: int
    guard: bool = False
    if_updated_at: datetime | None = None
    seen_again: bool = False
    stamp: bool = True
    """Set ``updated_at`` to ``at`` (a refreshed expiry is not a change of content)."""
    create: MemoryRecord | None = None
    scope: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))
        if not self.scope:
            object.__setattr__(self, "scope", _NO_SCOPE)
            return
        if not _SCOPES.issuperset(self.scope):
            raise TypeError(f"a scope names agent_id and session_id only, not {set(self.scope)}")
        object.__setattr__(self, "scope", MappingProxyType(dict(self.scope)))

    @property
    def changed(self) -> frozenset[str]:
        """The stored fields the update sets: its values', ``updated_at`` (with ``stamp``),
        ``outcome_history`` (with an outcome) and ``seen`` (with ``seen_again``).
        """
        changed = set(self.values) | ({"updated_at"} if self.stamp else set())
        if "outcome" in self.values:
            changed.add("outcome_history")
        if self.seen_again:
            changed.add("seen")
        return frozenset(changed)

    def applies_to(self, record: MemoryRecord) -> bool:
        """Whether ``record`` is the record this update is meant for: of its kind and
        within its scope.
        """
        return (self.kind is None or record.kind is self.kind) and all(
            getattr(record, name) == value for name, value in self.scope.items()
        )


def apply_update(record: MemoryRecord, update: RecordUpdate) -> MemoryRecord:
    """``record`` with ``update`` applied (the caller has checked it applies to it).

    The values replace the record's; ``updated_at`` becomes ``update.at`` (with
    ``update.stamp``); a new outcome
    is appended to ``outcome_history`` with that time (unless the last entry is that very
    change: so applying one update twice, as a retry does, changes the record once), and
    the history keeps its last ``update.history_limit`` entries. With ``seen_again``, an
    intervention's ``seen`` grows by one.
    """
    values: dict[str, Any] = dict(update.values)
    if update.stamp:
        values["updated_at"] = update.at
    if update.seen_again and isinstance(record, Intervention):
        values["seen"] = record.seen + 1
    if "outcome" in update.values and isinstance(record, Intervention):
        change = OutcomeChange(update.values["outcome"], update.at)
        history = record.outcome_history
        if not history or history[-1] != change:
            history = (*history, change)
        values["outcome_history"] = history[-update.history_limit :]
    return dataclasses.replace(record, **values)
