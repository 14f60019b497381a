"""Reading records in the layout before the readable one (hash 2, JSON 3), for migration.

That layout stored six fields: ``u`` (the user's key tag), ``k`` (kind and outcome
tokens, ``ki``/``kr`` and ``o<outcome>``), ``t`` (task and metadata digests), ``c``
(``created_at`` as POSIX seconds), ``v`` (the vector) and ``d`` (a JSON document of the
rest, with one-letter keys: ``x`` intervention text, ``n`` context, ``t`` task, ``r``
reflection text, ``s`` source ids, ``m`` metadata, ``c`` ISO ``created_at`` when the
number cannot give it back). The record id is in the key, the user in its key tag.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from memcore.domain import Intervention, MemoryRecord, Outcome, Reflection
from memcore_redis.encoding import from_seconds, text_from_tag

#: The layout versions this module reads, by storage type.
VERSIONS = {"hash": 2, "json": 3}
#: Every field of that layout; a record has them all.
FIELDS = ("u", "k", "t", "c", "v", "d")
_OUTCOME_PREFIX = "o"


def is_legacy(fields: dict[str, Any]) -> bool:
    """Whether a stored document (fields by name) holds a record in the old layout."""
    return "d" in fields and "k" in fields and "c" in fields and "v" in fields


def decode(
    key: str, fields: dict[str, Any], dtype: type[np.floating[Any]]
) -> tuple[MemoryRecord, NDArray[np.float32]]:
    """The record stored under ``key`` (``<prefix>:{<key tag>}:<id>``) and its vector, from
    the old fields by name (hash values as bytes, JSON values as decoded JSON).
    """
    tag_start = key.index(":{") + 2
    tag_end = key.index("}:", tag_start)
    user_id = text_from_tag(key[tag_start:tag_end])
    record_id = key[tag_end + 2 :]
    raw = fields["v"]
    vector = (
        np.frombuffer(raw, dtype=dtype).astype(np.float32)
        if isinstance(raw, bytes)
        else np.asarray(raw, dtype=np.float32)
    )
    doc = orjson.loads(fields["d"])
    created = datetime.fromisoformat(doc["c"]) if "c" in doc else from_seconds(float(fields["c"]))
    metadata = doc.get("m") or {}
    if "x" in doc:
        tokens = _text(fields["k"]).split(",")
        outcome = next(t for t in tokens if t.startswith(_OUTCOME_PREFIX))
        record: MemoryRecord = Intervention(
            id=record_id,
            user_id=user_id,
            intervention_text=doc["x"],
            task=doc["t"],
            context=doc.get("n", ""),
            outcome=Outcome(outcome[len(_OUTCOME_PREFIX) :]),
            created_at=created,
            metadata=metadata,
        )
    else:
        record = Reflection(
            id=record_id,
            user_id=user_id,
            text=doc["r"],
            source_ids=tuple(doc.get("s", ())),
            created_at=created,
            metadata=metadata,
        )
    return record, vector


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
