"""The rule for each single value a caller passes: user and record ids, texts, the
outcome, times, metadata, ``k``, pages, scores and batch sizes.

The rules are listed in :mod:`memcore.validation`, which re-exports these functions and
applies them to whole records (through the field table) and to filters. Each failure is a
:class:`~memcore.errors.ValidationError` naming the field.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, TypeGuard

from memcore.domain import MetadataValue, Outcome
from memcore.domain.fields import canonical
from memcore.errors import ValidationError
from memcore.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "INT64",
    "MAX_ID_CHARS",
    "is_mapping",
    "validate_batch_size",
    "validate_created_at",
    "validate_k",
    "validate_metadata",
    "validate_outcome",
    "validate_page",
    "validate_record_id",
    "validate_record_ids",
    "validate_score",
    "validate_text",
    "validate_user_id",
]

MAX_ID_CHARS = 128
_RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_METADATA_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_WILDCARDS = frozenset("*?")
_SEPARATORS = frozenset({"Zl", "Zp"})  # U+2028, U+2029: line breaks in logs and headers
_EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)
INT64 = 2**63
"""Integers stored and compared must fit in 64 bits: ``-INT64 <= n < INT64``."""


def validate_user_id(user_id: object) -> str:
    """Return ``user_id`` in NFC if it is a valid user id (see the module rules), else raise."""
    if not isinstance(user_id, str):
        raise ValidationError("user_id", f"must be a string, not {type(user_id).__name__}")
    return _checked_user_id(user_id)


@functools.lru_cache(maxsize=4_096)
def _checked_user_id(user_id: str) -> str:
    """The rules of :func:`validate_user_id` for a string; an id met before (every call of
    an agent names its user) is answered from the cache, errors are not cached.
    """
    user_id = canonical(user_id)
    if not user_id or user_id.isspace():
        raise ValidationError("user_id", "must not be empty or blank")
    if len(user_id) > MAX_ID_CHARS:
        raise ValidationError("user_id", f"must be at most {MAX_ID_CHARS} characters")
    if user_id != user_id.strip():
        raise ValidationError("user_id", "must not start or end with whitespace")
    # Printable text has no control or format characters; only the rest needs a closer look.
    if not user_id.isprintable() and any(
        unicodedata.category(char) in _SEPARATORS or unicodedata.category(char).startswith("C")
        for char in user_id
    ):
        raise ValidationError(
            "user_id", "must not contain control or format characters or line separators"
        )
    if _WILDCARDS.intersection(user_id):
        raise ValidationError("user_id", "must not contain the wildcards '*' or '?'")
    return user_id


def validate_record_id(record_id: object, field: str = "id") -> str:
    """Return ``record_id`` if it is a valid record id, else raise."""
    if not isinstance(record_id, str):
        raise ValidationError(field, f"must be a string, not {type(record_id).__name__}")
    if not _RECORD_ID.fullmatch(record_id):
        raise ValidationError(
            field, "must be 1-128 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit"
        )
    return record_id


def validate_record_ids(ids: object, field: str = "ids") -> list[str]:
    """Return ``ids`` as a list if every item is a valid record id, else raise."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
        raise ValidationError(field, "must be a list of record ids")
    return [validate_record_id(item, f"{field}[{i}]") for i, item in enumerate(ids)]


def validate_outcome(outcome: object) -> Outcome:
    """Return ``outcome`` as an :class:`~memcore.Outcome`, else raise."""
    if isinstance(outcome, Outcome):
        return outcome
    try:
        return Outcome(outcome)
    except ValueError:
        allowed = ", ".join(member.value for member in Outcome)
        raise ValidationError("outcome", f"{outcome!r} is not one of: {allowed}") from None


def validate_k(k: object, limits: Limits = DEFAULT_LIMITS) -> int:
    """Return ``k`` if it is an int in ``1..limits.max_k``, else raise."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise ValidationError("k", f"must be an integer, not {type(k).__name__}")
    if not 1 <= k <= limits.max_k:
        raise ValidationError("k", f"must be between 1 and {limits.max_k}, got {k}")
    return k


def validate_page(limit: object, cursor: object, max_limit: int) -> None:
    """Raise unless ``limit`` is an int in ``1..max_limit`` and ``cursor`` a string or ``None``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= max_limit:
        raise ValidationError("limit", f"must be an integer between 1 and {max_limit}")
    if cursor is not None and not isinstance(cursor, str):
        raise ValidationError("cursor", "must be a string returned as next_cursor")


def validate_score(value: object, field: str) -> float:
    """Return ``value`` if it is a real number in ``[-1, 1]`` (a cosine similarity), else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, f"must be a number, not {type(value).__name__}")
    if not -1.0 <= value <= 1.0:
        raise ValidationError(field, f"must be between -1 and 1, got {value}")
    return float(value)


def validate_batch_size(size: int, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise unless a batch of ``size`` items is within ``1..limits.max_batch``."""
    if not 1 <= size <= limits.max_batch:
        raise ValidationError("batch", f"must hold 1 to {limits.max_batch} items, got {size}")


def validate_text(value: object, field: str, max_chars: int, *, required: bool = True) -> str:
    """Return ``value`` if it is a string within the limits, else raise."""
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, not {type(value).__name__}")
    if required and (not value or value.isspace()):
        raise ValidationError(field, "must not be empty or blank")
    if len(value) > max_chars:
        raise ValidationError(field, f"must be at most {max_chars} characters, got {len(value)}")
    if "\x00" in value:
        raise ValidationError(field, "must not contain NUL characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(field, "must be valid Unicode (no lone surrogates)") from None
    return value


def validate_created_at(value: object, field: str = "created_at") -> datetime:
    """Return ``value`` if it is an aware datetime in 1970..2200, else raise."""
    if not isinstance(value, datetime):
        raise ValidationError(field, f"must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(field, "must be timezone-aware (e.g. datetime.now(timezone.utc))")
    if not _EARLIEST <= value < _LATEST:
        raise ValidationError(field, "must be between 1970 and 2200")
    return value


_MAPPINGS = (dict, MappingProxyType)


def is_mapping(value: object) -> TypeGuard[Mapping[Any, Any]]:
    """Whether ``value`` is a :class:`~collections.abc.Mapping`; a dict or a record's
    read-only metadata is told at once (an ABC's ``isinstance`` costs a microsecond).
    """
    return type(value) in _MAPPINGS or isinstance(value, Mapping)


def validate_metadata(
    metadata: object, limits: Limits = DEFAULT_LIMITS, field: str = "metadata"
) -> dict[str, MetadataValue]:
    """Return ``metadata`` as a new dict if it follows the metadata rules, else raise."""
    if not is_mapping(metadata):
        raise ValidationError(field, f"must be a mapping, not {type(metadata).__name__}")
    if len(metadata) > limits.max_metadata_keys:
        raise ValidationError(field, f"must have at most {limits.max_metadata_keys} keys")
    checked: dict[str, MetadataValue] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not _METADATA_KEY.fullmatch(key):
            raise ValidationError(field, f"key {key!r} must match [A-Za-z0-9_.-]{{1,64}}")
        checked[key] = _metadata_value(value, limits, f"{field}.{key}")
    return checked


def _metadata_value(value: object, limits: Limits, field: str) -> MetadataValue:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -INT64 <= value < INT64:
            raise ValidationError(field, "integers must fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(field, "floats must be finite")
        return value
    if isinstance(value, str):
        return canonical(
            validate_text(value, field, limits.max_metadata_value_chars, required=False)
        )
    raise ValidationError(field, f"must be str, int, float or bool, not {type(value).__name__}")
