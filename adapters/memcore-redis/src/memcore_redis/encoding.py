"""How records become Redis fields, and users and filter values keys and query tokens.

A record is stored with every field under its own name, as the field table
(:mod:`memcore.domain.fields`) describes it, plus ``kind`` and the vector:

- tag fields (``user_id``, ``kind``, ``outcome``, ``task``...) hold their values
  literally, matched case-sensitively; the index splits tags on :data:`TAG_SEPARATOR`, a
  control character. A value the index would not keep as it is (with that character, or
  leading or trailing whitespace, which it trims), or starting with ``~``, is stored as
  ``~`` and the hex of its UTF-8 bytes instead: validation lets none of these through but
  ``~``, and the two forms never meet (see :func:`tag_text`);
- number fields (``created_at``) hold POSIX seconds, written by ``repr``; when that
  cannot give the time back exactly (an offset other than UTC, or more precision than a
  float holds), ``<name>_iso`` holds its ISO text too;
- texts are readable (sealed tokens when encryption is on), metadata is JSON, source ids
  comma-separated (record ids hold no commas); empty values are left out;
- ``metadata_tags`` holds one token per metadata pair for equality filters: a 64-bit
  BLAKE2b digest of the key and the typed value, so ``1``, ``1.0``, ``True`` and ``"1"``
  never match each other.

The id is in the key, ``<prefix>:{<key tag>}:<id>``, where the key tag is the user id if it
is made only of ``[A-Za-z0-9_.-]``, else ``~`` and the hex of its UTF-8 bytes: the key's
cluster hash tag, so one user's keys live in one slot.

User text reaches a query only escaped: every ASCII character but letters and digits is
backslash-escaped in a tag clause.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from memcore.domain import MetadataValue, Outcome, RecordKind
from memcore.domain.fields import KIND, FieldSpec, Index, Value, fields_of, indexed_fields
from memcore.domain.records import RECORD_TYPES

TAG_SEPARATOR = "\x1f"
METADATA_TAGS = "metadata_tags"
VECTOR = "vector"
ISO_SUFFIX = "_iso"

_DIGEST_BYTES = 8
_PLAIN_USER = re.compile(r"[A-Za-z0-9_.-]+")
_HEX = "~"
# Every ASCII character a RediSearch query may treat as syntax; letters beyond ASCII
# are taken literally, and a backslash before them would be.
_QUERY_SPECIAL = re.compile(r"([\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f])")

_KEY_FIELDS = {"id"}  # in the key, not stored
INDEXED: Mapping[str, FieldSpec] = indexed_fields(*RECORD_TYPES.values())
"""Every indexed field (``kind`` included), by name: each one index attribute."""
STORED: tuple[FieldSpec, ...] = tuple(
    {
        spec.name: spec
        for record_type in RECORD_TYPES.values()
        for spec in (KIND, *fields_of(record_type))
        if spec.name not in _KEY_FIELDS
    }.values()
)
"""Every field a stored record may have, but the vector and the derived ones."""
STORED_NAMES: tuple[str, ...] = (
    *(spec.name for spec in STORED),
    *(spec.name + ISO_SUFFIX for spec in STORED if spec.about.value is Value.TIME),
)
"""The names to read back a record by (``metadata_tags`` and the vector aside)."""


@functools.lru_cache(maxsize=4_096)
def key_tag(user_id: str) -> str:
    """The user's key hash tag (see the module docstring)."""
    if _PLAIN_USER.fullmatch(user_id):
        return user_id
    return _HEX + user_id.encode("utf-8").hex()


def digest(text: str) -> str:
    """A fixed-size, query-safe token for an arbitrary string (13 base32 characters)."""
    raw = hashlib.blake2b(text.encode("utf-8"), digest_size=_DIGEST_BYTES).digest()
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def metadata_token(key: str, value: MetadataValue) -> str:
    """The ``metadata_tags`` value that stands for ``key == value`` with the value's type."""
    return _typed_token(key, value, type(value).__name__)  # True == 1, but not in the cache


@functools.lru_cache(maxsize=4_096)
def _typed_token(key: str, value: MetadataValue, _: str) -> str:
    return digest(f"meta\x1f{key}\x1f{_typed(value)}")


def _typed(value: MetadataValue) -> str:
    if isinstance(value, bool):
        return f"b:{value}"
    if isinstance(value, int):
        return f"i:{value}"
    if isinstance(value, float):
        return f"f:{value + 0.0!r}"  # -0.0 == 0.0, so both get one token
    return f"s:{value}"


_ENUMS = (Outcome, RecordKind)


def tag_value(value: Any) -> str:
    """A tag field's stored text for a field value (an enum's value, else :func:`tag_text`)."""
    return value.value if isinstance(value, _ENUMS) else tag_text(str(value))


@functools.lru_cache(maxsize=4_096)
def tag_text(text: str) -> str:
    """``text`` as a tag holds it: itself, or ``~`` and its hex (see the module docstring)."""
    if text.startswith(_HEX) or TAG_SEPARATOR in text or text != text.strip():
        return _HEX + text.encode("utf-8").hex()
    return text


def text_from_tag(stored: str) -> str:
    """Inverse of :func:`tag_text`."""
    return bytes.fromhex(stored[len(_HEX) :]).decode("utf-8") if stored.startswith(_HEX) else stored


def escape_tag(value: str) -> str:
    """Escape a tag value for a ``@field:{...}`` clause."""
    return _QUERY_SPECIAL.sub(r"\\\1", value)


def record_key(prefix: str, user_id: str, record_id: str) -> str:
    """``<prefix>:{<key tag>}:<record id>``; record ids are validated ``[A-Za-z0-9_.:-]``."""
    return f"{user_key_prefix(prefix, user_id)}{record_id}"


def user_key_prefix(prefix: str, user_id: str) -> str:
    """Every key of this user starts with this string."""
    return f"{prefix}:{{{key_tag(user_id)}}}:"


def from_seconds(seconds: float) -> datetime:
    """A UTC time from POSIX seconds."""
    return datetime.fromtimestamp(seconds, timezone.utc)


def exact_in_seconds(time: datetime) -> bool:
    """Whether POSIX seconds give ``time`` back exactly (offset included)."""
    return not time.utcoffset() and from_seconds(time.timestamp()) == time


def is_tag(spec: FieldSpec) -> bool:
    """Whether a field is a tag attribute of the index."""
    return spec.about.index is Index.TAG
