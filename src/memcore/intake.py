"""Records from what a caller passed: ids, defaults, and validation with the input's path.

A batch item's errors name the item (``items[2].intervention_text``), so the caller
knows which one to fix; nothing of a batch is stored when one item is bad.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from memcore.domain import Intervention, MetadataValue, Reflection, new_id, utcnow
from memcore.domain.fields import fields_of
from memcore.errors import ValidationError
from memcore.validation import (
    Limits,
    field_checks,
    validate_batch_size,
    validate_record_id,
    validate_record_ids,
    validate_reflection,
    validate_text,
)
from memcore.value_rules import is_mapping

__all__ = ["INTERVENTION_FIELDS", "intervention_from", "interventions_from", "reflection_from"]

INTERVENTION_FIELDS = frozenset(
    {spec.name for spec in fields_of(Intervention) if spec.name != "user_id"} | {"idempotency_key"}
)
"""The keys of one intervention: :meth:`~memcore.MemoryService.record_intervention`'s
keyword arguments, and the keys of each item of a batch.
"""

_ID_FIELDS = frozenset({"id", "idempotency_key"})  # they give the id: see record_id
_REQUIRED = tuple(
    spec.name
    for spec in fields_of(Intervention)
    if not spec.has_default and spec.name not in {"id", "user_id"}
)
"""The fields a caller must give (the id has a default here, the user is an argument)."""


def record_id(given: object, idempotency_key: object) -> str:
    """The id of a new record: ``given``, derived from ``idempotency_key``, or random."""
    if given is not None:
        if idempotency_key is not None:
            raise ValidationError("idempotency_key", "give id or idempotency_key, not both")
        return validate_record_id(given)
    if idempotency_key is None:
        return new_id()
    return new_id(validate_text(idempotency_key, "idempotency_key", 1_024))


def intervention_from(user_id: str, item: Mapping[str, Any], limits: Limits) -> Intervention:
    """A validated intervention of ``user_id`` (already valid) from one mapping of fields.

    Each value given is checked once, by its field's rule; a field left out (or ``None``)
    takes its default, which is valid as it is.
    """
    if not is_mapping(item):
        raise ValidationError("item", "must be a mapping of intervention fields")
    unknown = item.keys() - INTERVENTION_FIELDS
    if unknown:
        raise ValidationError(min(str(key) for key in unknown), "unknown intervention field")
    checks = field_checks(Intervention, limits)
    values: dict[str, Any] = {
        name: checks[name](value)
        for name, value in item.items()
        if value is not None and name not in _ID_FIELDS
    }
    for name in _REQUIRED:
        if name not in values:
            raise ValidationError(name, "is required")
    return Intervention(
        id=record_id(item.get("id"), item.get("idempotency_key")), user_id=user_id, **values
    )


def interventions_from(user_id: str, items: object, limits: Limits) -> list[Intervention]:
    """Every item of a batch as a validated intervention; errors name the item."""
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        raise ValidationError("items", "must be a list of intervention mappings")
    validate_batch_size(len(items), limits)
    return [_item(user_id, index, item, limits) for index, item in enumerate(items)]


def _item(user_id: str, index: int, item: object, limits: Limits) -> Intervention:
    try:
        return intervention_from(user_id, item, limits)  # type: ignore[arg-type]
    except ValidationError as exc:
        at = f"items[{index}]"
        raise ValidationError(
            at if exc.field == "item" else f"{at}.{exc.field}", exc.reason
        ) from None


def reflection_from(
    user_id: str,
    text: object,
    *,
    source_ids: Sequence[str],
    metadata: object,
    created_at: datetime | None,
    given_id: str | None,
    idempotency_key: str | None,
    scope: tuple[str | None, str | None],
    limits: Limits,
) -> Reflection:
    """A validated reflection of ``user_id`` (already valid) in ``scope`` (its
    ``agent_id`` and ``session_id``).
    """
    validate_text(text, "text", limits.max_text_chars)
    assert isinstance(text, str)  # noqa: S101 - validate_text checked it
    record = Reflection(
        id=record_id(given_id, idempotency_key),
        user_id=user_id,
        text=text,
        source_ids=tuple(validate_record_ids(source_ids, "source_ids")),
        created_at=_created_at(created_at),
        metadata=_metadata(metadata),
        agent_id=scope[0],
        session_id=scope[1],
    )
    return validate_reflection(record, limits)


def _created_at(value: object) -> Any:
    return utcnow() if value is None else value


def _metadata(metadata: object) -> Mapping[str, MetadataValue]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ValidationError("metadata", f"must be a mapping, not {type(metadata).__name__}")
    return metadata
