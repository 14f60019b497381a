"""Domain model: frozen value objects and their rules. No I/O happens here."""

from memcore.domain.changes import RecordUpdate, apply_update
from memcore.domain.filters import SearchFilter, metadata_equal
from memcore.domain.outcome import Outcome, OutcomeChange, RecordKind
from memcore.domain.records import (
    Intervention,
    MemoryRecord,
    MetadataValue,
    Reflection,
    new_id,
    utcnow,
)
from memcore.domain.results import (
    Count,
    EmbeddingSchema,
    HealthCheck,
    HealthReport,
    HealthStatus,
    MemoryStats,
    Page,
    Receipt,
    Removed,
    SearchHit,
    SearchResults,
    Status,
    UserIds,
)

__all__ = [
    "Count",
    "EmbeddingSchema",
    "HealthCheck",
    "HealthReport",
    "HealthStatus",
    "Intervention",
    "MemoryRecord",
    "MemoryStats",
    "MetadataValue",
    "Outcome",
    "OutcomeChange",
    "Page",
    "Receipt",
    "RecordKind",
    "RecordUpdate",
    "Reflection",
    "Removed",
    "SearchFilter",
    "SearchHit",
    "SearchResults",
    "Status",
    "UserIds",
    "apply_update",
    "metadata_equal",
    "new_id",
    "utcnow",
]
