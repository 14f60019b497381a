"""How records, users and filter values become Redis keys, fields and query tokens.

No user-supplied text ever reaches a key pattern or a query string:

- the user id is stored and queried as the lowercase hex of its UTF-8 bytes, exact and
  reversible, made of ``[0-9a-f]`` only; it is also the key's cluster hash tag, so one
  user's keys live in one slot and are found by their own index lookup;
- tasks and metadata equalities are stored as 96-bit BLAKE2b digests (hex), so they are
  bounded in size and need no escaping; metadata values carry their type, so ``1``,
  ``1.0``, ``True`` and ``"1"`` never match each other.

The record itself travels as JSON (:mod:`memcore.domain.codec`) in one field.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import numpy as np
from numpy.typing import NDArray

from memcore.domain import Intervention, MemoryRecord, MetadataValue, Outcome, RecordKind
from memcore.domain.codec import record_from_dict, record_to_dict

_DIGEST_BYTES = 12  # 96 bits: no two distinct values of one user will ever collide
# Short keys in the stored document: they are repeated in every record.
_SHORT_KEYS = {
    "id": "i",
    "created_at": "c",
    "metadata": "m",
    "intervention_text": "x",
    "context": "n",
    "task": "t",
    "outcome": "o",
    "text": "r",
    "source_ids": "s",
}
_LONG_KEYS = {short: long for long, short in _SHORT_KEYS.items()}
_KIND_TOKENS = {RecordKind.INTERVENTION: "ki", RecordKind.REFLECTION: "kr"}
_UTC = "+00:00"
_HAS_OFFSET = re.compile(r"[+-]\d\d:\d\d(:\d\d(\.\d+)?)?$")
# Every character a RediSearch query treats as syntax is escaped by a backslash.
_QUERY_SPECIAL = re.compile(r"([^A-Za-z0-9_])")


def user_tag(user_id: str) -> str:
    """The user's tag value and key hash tag: hex of the UTF-8 bytes."""
    return user_id.encode("utf-8").hex()


def user_from_tag(tag: str) -> str:
    """Inverse of :func:`user_tag`."""
    return bytes.fromhex(tag).decode("utf-8")


def digest(text: str) -> str:
    """A fixed-size, query-safe token for an arbitrary string."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=_DIGEST_BYTES).hexdigest()


def task_token(task: str) -> str:
    """The tag value that stands for one exact task string."""
    return digest(f"task\x1f{task}")


def metadata_token(key: str, value: MetadataValue) -> str:
    """The tag value that stands for ``key == value`` with the value's type."""
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
    return f"o{outcome.value}"


def escape_tag(value: str) -> str:
    """Escape a tag value for a ``@field:{...}`` clause (defence in depth: ours are hex)."""
    return _QUERY_SPECIAL.sub(r"\\\1", value)


def record_key(prefix: str, user_id: str, record_id: str) -> str:
    """``<prefix>:{<user hex>}:<record id>``; record ids are validated ``[A-Za-z0-9_.:-]``."""
    return f"{user_key_prefix(prefix, user_id)}{record_id}"


def user_key_prefix(prefix: str, user_id: str) -> str:
    """Every key of this user starts with this string."""
    return f"{prefix}:{{{user_tag(user_id)}}}:"


def index_fields(record: MemoryRecord) -> dict[str, Any]:
    """The indexed fields of ``record`` (tags as strings, created_at as a number)."""
    fields: dict[str, Any] = {
        "user_id": user_tag(record.user_id),
        "kind": kind_token(record.kind),
        "outcome": "",
        "task": "",
        "metadata": [metadata_token(key, value) for key, value in record.metadata.items()],
        "created_at": record.created_at.timestamp(),
    }
    if isinstance(record, Intervention):
        fields["outcome"] = outcome_token(record.outcome)
        fields["task"] = task_token(record.task)
    return fields


def document(record: MemoryRecord) -> str:
    """The stored JSON of a record, in compact form.

    One-letter keys, no user id (the key has it), no kind (an intervention is the record
    with an intervention text), no UTC offset when it is UTC.
    """
    data = record_to_dict(record)
    del data["user_id"], data["kind"]
    data["created_at"] = data["created_at"].removesuffix(_UTC)  # usual case: implied
    compact = {_SHORT_KEYS[key]: value for key, value in data.items()}
    return json.dumps(compact, ensure_ascii=False, separators=(",", ":"))


def record_from_document(user_id: str, raw: str | bytes | dict[str, Any]) -> MemoryRecord:
    """Inverse of :func:`document` for a record of ``user_id`` (JSON text or parsed)."""
    compact = raw if isinstance(raw, dict) else json.loads(raw)
    data = {_LONG_KEYS[key]: value for key, value in compact.items()}
    if _HAS_OFFSET.search(data["created_at"]) is None:
        data["created_at"] += _UTC
    kind = RecordKind.INTERVENTION if "intervention_text" in data else RecordKind.REFLECTION
    return record_from_dict({**data, "user_id": user_id, "kind": kind.value})


def normalized(vectors: NDArray[np.floating[Any]], dtype: type[np.floating[Any]]) -> NDArray[Any]:
    """Rows scaled to unit length (cosine ignores length) and cast to the stored dtype.

    Unit length keeps FLOAT16 far from overflow and uses its precision where it matters.
    Raises ``ValueError`` for a row with NaN, an infinity, or only zeros.
    """
    wide = np.asarray(vectors, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", wide, wide))  # NaN and inf propagate into the norm
    if not np.isfinite(norms).all():
        msg = "must contain only finite values (no NaN or Inf)"
        raise ValueError(msg)
    if not norms.all():
        msg = "rows must not be all zeros"
        raise ValueError(msg)
    unit: NDArray[Any] = (wide / norms[:, np.newaxis]).astype(dtype)
    return unit
