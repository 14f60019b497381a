"""Records to and from plain JSON-ready dicts: the one wire form for snapshots, exports
and backends that store documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from memcore.domain.outcome import Outcome, RecordKind
from memcore.domain.records import Intervention, MemoryRecord, Reflection


def record_to_dict(record: MemoryRecord) -> dict[str, Any]:
    """Return ``record`` as a dict of JSON types; ``kind`` says which record it is."""
    common = {
        "kind": record.kind.value,
        "id": record.id,
        "user_id": record.user_id,
        "created_at": record.created_at.isoformat(),
        "metadata": dict(record.metadata),
    }
    if isinstance(record, Intervention):
        return {
            **common,
            "intervention_text": record.intervention_text,
            "context": record.context,
            "task": record.task,
            "outcome": record.outcome.value,
        }
    return {**common, "text": record.text, "source_ids": list(record.source_ids)}


def record_from_dict(data: Mapping[str, Any]) -> MemoryRecord:
    """Inverse of :func:`record_to_dict` (raises ``KeyError``/``ValueError`` on bad data)."""
    common = {
        "id": data["id"],
        "user_id": data["user_id"],
        "created_at": datetime.fromisoformat(data["created_at"]),
        "metadata": data.get("metadata") or {},
    }
    if RecordKind(data["kind"]) is RecordKind.INTERVENTION:
        return Intervention(
            intervention_text=data["intervention_text"],
            context=data.get("context", ""),
            task=data["task"],
            outcome=Outcome(data["outcome"]),
            **common,
        )
    return Reflection(text=data["text"], source_ids=tuple(data.get("source_ids", ())), **common)
