"""memcore: long-term memory for AI agents.

Record what an agent did for a user (interventions) and what it learned (reflections),
then ask what worked in a similar situation::

    import memcore

    async with memcore.connect() as memory:
        await memory.record_intervention(
            "user-42", "Try two minutes of box breathing.", task="calm_down",
            context="user said they feel anxious before a call", outcome="task_completed",
        )
        hits = await memory.search_interventions(
            "user-42", "nervous before a meeting", filters={"outcome": "task_completed"}
        )
"""

from importlib.metadata import PackageNotFoundError, version

from memcore.connect import connect
from memcore.domain import (
    Count,
    EmbeddingSchema,
    HealthCheck,
    HealthReport,
    HealthStatus,
    Intervention,
    MemoryRecord,
    MemoryStats,
    MetadataValue,
    Outcome,
    OutcomeChange,
    Page,
    Receipt,
    RecordKind,
    Reflection,
    Removed,
    SearchFilter,
    SearchHit,
    SearchResults,
    Status,
    UserIds,
    new_id,
)
from memcore.domain.worked import TaskRate, WhatWorked, WorkedHit
from memcore.errors import (
    AdapterNotFoundError,
    CircuitOpenError,
    ConfigurationError,
    ConflictError,
    DataLossError,
    DecryptionError,
    EmbedderCircuitOpenError,
    EmbeddingError,
    EmbeddingUnavailableError,
    IndexCreationError,
    MemcoreError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    SchemaMismatchError,
    StoreCircuitOpenError,
    StoreError,
    StoreFullError,
    StoreTimeoutError,
    StoreUnavailableError,
    UnhealthyError,
    ValidationError,
    VectorSearchError,
)
from memcore.observability import Metrics, Telemetry, configure_logging
from memcore.ports import Embedder, MemoryStore, Vectors
from memcore.registry import register_embedder, register_store
from memcore.resilience import RetryConfig, retry_async, retry_sync
from memcore.scopes import Scope
from memcore.sections import register_settings
from memcore.service import MemoryService
from memcore.settings import MemcoreSettings, load_settings
from memcore.sync import SyncMemoryService
from memcore.validation import (
    Limits,
    validate_intervention,
    validate_reflection,
    validate_scope,
    validate_user_id,
)

try:
    __version__ = version("agent-memcore")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AdapterNotFoundError",
    "CircuitOpenError",
    "ConfigurationError",
    "ConflictError",
    "Count",
    "DataLossError",
    "DecryptionError",
    "Embedder",
    "EmbedderCircuitOpenError",
    "EmbeddingError",
    "EmbeddingSchema",
    "EmbeddingUnavailableError",
    "HealthCheck",
    "HealthReport",
    "HealthStatus",
    "IndexCreationError",
    "Intervention",
    "Limits",
    "MemcoreError",
    "MemcoreSettings",
    "MemoryRecord",
    "MemoryService",
    "MemoryStats",
    "MemoryStore",
    "MetadataValue",
    "Metrics",
    "NotFoundError",
    "Outcome",
    "OutcomeChange",
    "OutcomeUnknownError",
    "Page",
    "RateLimitedError",
    "Receipt",
    "RecordKind",
    "Reflection",
    "Removed",
    "RetryConfig",
    "SchemaMismatchError",
    "Scope",
    "SearchFilter",
    "SearchHit",
    "SearchResults",
    "Status",
    "StoreCircuitOpenError",
    "StoreError",
    "StoreFullError",
    "StoreTimeoutError",
    "StoreUnavailableError",
    "SyncMemoryService",
    "TaskRate",
    "Telemetry",
    "UnhealthyError",
    "UserIds",
    "ValidationError",
    "VectorSearchError",
    "Vectors",
    "WhatWorked",
    "WorkedHit",
    "configure_logging",
    "connect",
    "load_settings",
    "new_id",
    "register_embedder",
    "register_settings",
    "register_store",
    "retry_async",
    "retry_sync",
    "validate_intervention",
    "validate_reflection",
    "validate_scope",
    "validate_user_id",
]
