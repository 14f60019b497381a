"""The memories themselves: frozen value objects with client-generated ids."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import ClassVar, Literal

from memcore.domain.fields import Index, Value, about
from memcore.domain.outcome import Outcome, OutcomeChange, RecordKind

MetadataValue = str | int | float | bool
"""Metadata holds flat scalars only, so every backend can filter on it by equality."""

_EMPTY: Mapping[str, MetadataValue] = MappingProxyType({})

_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1b7d2e-5c1a-4c8e-9a57-2f2d9c1e7b10")


def new_id(idempotency_key: str | None = None) -> str:
    """Return a record id: random, or derived from ``idempotency_key`` so a retried
    logical write always lands on the same id (and so leaves one record).
    """
    if idempotency_key is None:
        # A version-4 UUID's hex, set by hand: uuid.uuid4() checks what it is given and
        # costs three times as much, on every write.
        raw = bytearray(os.urandom(16))
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        return raw.hex()
    return uuid.uuid5(_IDEMPOTENCY_NAMESPACE, idempotency_key).hex


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


def _freeze(metadata: Mapping[str, MetadataValue]) -> Mapping[str, MetadataValue]:
    # A read-only copy: the caller's dict is never aliased, so neither side can mutate the other.
    return MappingProxyType(dict(metadata)) if metadata else _EMPTY


@dataclass(frozen=True, slots=True)
class Intervention:
    """Something the agent said or did for a user, in a context, for a task, and its outcome.

    Each field's metadata is its row in the field table (:mod:`memcore.domain.fields`).
    """

    id: str = field(metadata=about(Value.RECORD_ID))
    user_id: str = field(metadata=about(Value.USER_ID, index=Index.TAG))
    intervention_text: str = field(
        repr=False,
        metadata=about(Value.TEXT, embedded=True, sensitive=True, limit="max_text_chars"),
    )
    task: str = field(
        metadata=about(Value.TEXT, embedded=True, index=Index.TAG, limit="max_task_chars")
    )
    context: str = field(
        default="",
        repr=False,
        metadata=about(
            Value.TEXT, embedded=True, sensitive=True, limit="max_context_chars", required=False
        ),
    )
    outcome: Outcome = field(
        default=Outcome.UNKNOWN, metadata=about(Value.OUTCOME, index=Index.TAG)
    )
    created_at: datetime = field(
        default_factory=utcnow, metadata=about(Value.TIME, index=Index.NUMBER)
    )
    metadata: Mapping[str, MetadataValue] = field(
        default_factory=lambda: _EMPTY,
        hash=False,
        repr=False,
        metadata=about(Value.METADATA, sensitive=True, limit="max_metadata_keys"),
    )
    agent_id: str | None = field(default=None, metadata=about(Value.USER_ID, index=Index.TAG))
    """The agent whose memory it is, within the user's (``None``: unscoped)."""
    session_id: str | None = field(default=None, metadata=about(Value.USER_ID, index=Index.TAG))
    """The session (run, thread) it belongs to (``None``: unscoped)."""
    expires_at: datetime | None = field(
        default=None, metadata=about(Value.TIME, index=Index.NUMBER)
    )
    """When it expires: from then on no read returns or counts it (``None``: never)."""
    updated_at: datetime | None = field(default=None, metadata=about(Value.TIME))
    """When an update last changed it (``None``: never)."""
    seen: int = field(default=1, metadata=about(Value.COUNT))
    """How many times it was recorded: a duplicate merged into it counts here."""
    outcome_history: tuple[OutcomeChange, ...] = field(
        default=(), repr=False, metadata=about(Value.OUTCOME_HISTORY, limit="max_outcome_history")
    )
    """Each outcome an update set, oldest first (the last ``max_outcome_history`` ones)."""

    kind: ClassVar[Literal[RecordKind.INTERVENTION]] = RecordKind.INTERVENTION

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", _freeze(self.metadata))
        object.__setattr__(self, "outcome_history", tuple(self.outcome_history))

    def embedding_text(self) -> str:
        """The text that is embedded: the situation and what was said, so a query that
        describes a situation finds interventions made in similar ones.
        """
        parts = [f"Task: {self.task}"]
        if self.context:
            parts.append(f"Context: {self.context}")
        parts.append(f"Intervention: {self.intervention_text}")
        return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Reflection:
    """An insight about a user, drawn from some of their interventions.

    Each field's metadata is its row in the field table (:mod:`memcore.domain.fields`).
    """

    id: str = field(metadata=about(Value.RECORD_ID))
    user_id: str = field(metadata=about(Value.USER_ID, index=Index.TAG))
    text: str = field(
        repr=False,
        metadata=about(Value.TEXT, embedded=True, sensitive=True, limit="max_text_chars"),
    )
    source_ids: tuple[str, ...] = field(
        default=(), metadata=about(Value.RECORD_IDS, limit="max_source_ids")
    )
    created_at: datetime = field(
        default_factory=utcnow, metadata=about(Value.TIME, index=Index.NUMBER)
    )
    metadata: Mapping[str, MetadataValue] = field(
        default_factory=lambda: _EMPTY,
        hash=False,
        repr=False,
        metadata=about(Value.METADATA, sensitive=True, limit="max_metadata_keys"),
    )
    agent_id: str | None = field(default=None, metadata=about(Value.USER_ID, index=Index.TAG))
    """The agent whose memory it is, within the user's (``None``: unscoped)."""
    session_id: str | None = field(default=None, metadata=about(Value.USER_ID, index=Index.TAG))
    """The session (run, thread) it belongs to (``None``: unscoped)."""
    expires_at: datetime | None = field(
        default=None, metadata=about(Value.TIME, index=Index.NUMBER)
    )
    """When it expires: from then on no read returns or counts it (``None``: never)."""
    updated_at: datetime | None = field(default=None, metadata=about(Value.TIME))
    """When an update last changed it (``None``: never)."""

    kind: ClassVar[Literal[RecordKind.REFLECTION]] = RecordKind.REFLECTION

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", _freeze(self.metadata))
        object.__setattr__(self, "source_ids", tuple(self.source_ids))

    def embedding_text(self) -> str:
        """The text that is embedded: the reflection itself."""
        return self.text


MemoryRecord = Intervention | Reflection
"""Either kind of memory; ``record.kind`` tells which."""

RECORD_TYPES: dict[RecordKind, type[Intervention | Reflection]] = {
    RecordKind.INTERVENTION: Intervention,
    RecordKind.REFLECTION: Reflection,
}
"""The record type of each kind: what decoders build (a test may put a subclass here)."""
