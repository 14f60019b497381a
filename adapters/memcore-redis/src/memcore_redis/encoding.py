"""How records, users and filter values become Redis keys, fields and query tokens.

User text reaches a key or a query only in one narrow, escaped form:

- a user id made only of ``[A-Za-z0-9_.-]`` is its own tag (the user_id TAG is
  case-sensitive, and every character but letters and digits is backslash-escaped in a
  query); any other id is ``~`` and the lowercase hex of its UTF-8 bytes (``~`` is never
  in a plain id, so the two forms cannot meet). The tag is also the key's cluster hash
  tag, so one user's keys live in one slot and are found by their own index lookup;
- tasks and metadata equalities are stored as 64-bit BLAKE2b digests in base32, so they
  are bounded in size and need no escaping; metadata values carry their type, so ``1``,
  ``1.0``, ``True`` and ``"1"`` never match each other. A collision would only make one
  of a user's own filters match a record it should not; at 64 bits it will not happen.

A record is stored as its indexed fields plus a compact JSON document of the rest
(:func:`document`): the id is in the key, ``created_at`` in its numeric field, the kind
and outcome in their tag tokens, so none of them is stored twice.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from datetime import datetime, timezone
from typing import Any

import orjson

from memcore.domain import (
    Intervention,
    MemoryRecord,
    MetadataValue,
    Outcome,
    RecordKind,
    Reflection,
)

_DIGEST_BYTES = 8
_PLAIN_USER = re.compile(r"[A-Za-z0-9_.-]+")
_HEX_USER = "~"
_KIND_TOKENS = {RecordKind.INTERVENTION: "ki", RecordKind.REFLECTION: "kr"}
_OUTCOME_PREFIX = "o"
# Every character a RediSearch query treats as syntax is escaped by a backslash.
_QUERY_SPECIAL = re.compile(r"([^A-Za-z0-9])")


@functools.lru_cache(maxsize=4_096)
def user_tag(user_id: str) -> str:
    """The user's tag value and key hash tag (see the module docstring)."""
    if _PLAIN_USER.fullmatch(user_id):
        return user_id
    return _HEX_USER + user_id.encode("utf-8").hex()


def user_from_tag(tag: str) -> str:
    """Inverse of :func:`user_tag`."""
    if tag.startswith(_HEX_USER):
        return bytes.fromhex(tag[len(_HEX_USER) :]).decode("utf-8")
    return tag


def digest(text: str) -> str:
    """A fixed-size, query-safe token for an arbitrary string (13 base32 characters)."""
    raw = hashlib.blake2b(text.encode("utf-8"), digest_size=_DIGEST_BYTES).digest()
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


@functools.lru_cache(maxsize=4_096)
def task_token(task: str) -> str:
    """The tag value that stands for one exact task string."""
    return digest(f"task\x1f{task}")


def metadata_token(key: str, value: MetadataValue) -> str:
    """The tag value that stands for ``key == value`` with the value's type."""
    return _typed_token(key, value, type(value).__name__)  # True == 1, but not in the cache


@functools.lru_cache(maxsize=4_096)
def _typed_token(key: str, value: MetadataValue, _: str) -> str:
    # Another domain than tasks: task and metadata tokens may share one hash field.
    return digest(f"meta\x1f{key}\x1f{_typed(value)}")


def _typed(value: MetadataValue) -> str:
    if isinstance(value, bool):
        return f"b:{value}"
    if isinstance(value, int):
        return f"i:{value}"
    if isinstance(value, float):
        return f"f:{value + 0.0!r}"  # -0.0 == 0.0, so both get one token
    return f"s:{value}"


def kind_token(kind: RecordKind) -> str:
    """The tag value of a record kind (``ki``, ``kr``)."""
    return _KIND_TOKENS[kind]


def outcome_token(outcome: Outcome) -> str:
    """The tag value of an outcome: ``o`` and its value, so it never equals a kind token."""
    return f"{_OUTCOME_PREFIX}{outcome.value}"


@functools.lru_cache(maxsize=64)
def _outcome_in(tokens: str) -> Outcome:
    """The outcome whose token is among comma-separated ``tokens``."""
    for token in tokens.split(","):
        if token.startswith(_OUTCOME_PREFIX):
            return Outcome(token[len(_OUTCOME_PREFIX) :])
    msg = f"no outcome token in {tokens!r}"
    raise ValueError(msg)


def escape_tag(value: str) -> str:
    """Escape a tag value for a ``@field:{...}`` clause."""
    return _QUERY_SPECIAL.sub(r"\\\1", value)


def record_key(prefix: str, user_id: str, record_id: str) -> str:
    """``<prefix>:{<user tag>}:<record id>``; record ids are validated ``[A-Za-z0-9_.:-]``."""
    return f"{user_key_prefix(prefix, user_id)}{record_id}"


def user_key_prefix(prefix: str, user_id: str) -> str:
    """Every key of this user starts with this string."""
    return f"{prefix}:{{{user_tag(user_id)}}}:"


def created_number(record: MemoryRecord) -> str:
    """``created_at`` as the numeric field stores it: POSIX seconds, written by ``repr``."""
    return repr(record.created_at.timestamp())


def tag_fields(record: MemoryRecord) -> tuple[str, str, str]:
    """The tag fields of ``record``, comma-separated tokens: its user tag, its kind and
    outcome tokens, its task and metadata digests (tokens that never meet share a field).
    """
    metadata = [metadata_token(key, value) for key, value in record.metadata.items()]
    if isinstance(record, Intervention):
        kinds = f"{kind_token(record.kind)},{outcome_token(record.outcome)}"
        return user_tag(record.user_id), kinds, ",".join([task_token(record.task), *metadata])
    return user_tag(record.user_id), kind_token(record.kind), ",".join(metadata)


def document(record: MemoryRecord) -> dict[str, Any]:
    """What the tag fields and the key do not hold, with one-letter keys.

    Empty metadata, context and source ids are left out. ``created_at`` is kept (as ISO
    text) only when its numeric field cannot give it back exactly: an offset other than
    UTC, or a time float seconds cannot hold to the µs.
    """
    doc: dict[str, Any] = {}
    if record.metadata:
        doc["m"] = dict(record.metadata)
    if isinstance(record, Intervention):
        doc["x"] = record.intervention_text
        if record.context:
            doc["n"] = record.context
        doc["t"] = record.task
    else:
        doc["r"] = record.text
        if record.source_ids:
            doc["s"] = list(record.source_ids)
    created = record.created_at
    if created.utcoffset() or _from_number(created.timestamp()) != created:
        doc["c"] = created.isoformat()
    return doc


def document_json(record: MemoryRecord) -> bytes:
    """:func:`document` as compact UTF-8 JSON (orjson: a tenth of the stdlib's time)."""
    return orjson.dumps(document(record))


def record_from_stored(
    user_id: str, record_id: str, doc: str | bytes | dict[str, Any], created: Any, tokens: Any
) -> MemoryRecord:
    """Inverse of :func:`document` with the record's key, numeric and kind/outcome fields.

    ``created`` is the numeric field, as text or a number (unused if the document has ``c``);
    ``tokens`` the kind and outcome tag tokens, comma-separated (text or bytes).
    """
    data = doc if isinstance(doc, dict) else orjson.loads(doc)
    created_at = datetime.fromisoformat(data["c"]) if "c" in data else _from_number(float(created))
    metadata = data.get("m") or {}
    if "x" in data:
        text = tokens.decode() if isinstance(tokens, bytes) else str(tokens)
        return Intervention(
            id=record_id,
            user_id=user_id,
            intervention_text=data["x"],
            task=data["t"],
            context=data.get("n", ""),
            outcome=_outcome_in(text),
            created_at=created_at,
            metadata=metadata,
        )
    return Reflection(
        id=record_id,
        user_id=user_id,
        text=data["r"],
        source_ids=tuple(data.get("s", ())),
        created_at=created_at,
        metadata=metadata,
    )


def _from_number(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)
