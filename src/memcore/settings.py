"""Configuration from the environment (``MEMCORE_*``), a ``.env`` file, or code.

Nested settings use ``__``: ``MEMCORE_LIMITS__MAX_K=50``. Each adapter's settings are a
section of their own (:mod:`memcore.sections`): ``MEMCORE_REDIS_URL=...`` or
``load_settings(redis={"url": ...})``, read by the adapter with
:meth:`MemcoreSettings.section`. An unknown keyword or ``MEMCORE_*`` name raises
:class:`~memcore.errors.ConfigurationError` with a did-you-mean. Nothing is read at
import time: call :func:`load_settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from memcore.errors import ConfigurationError
from memcore.lifecycle_settings import (
    DuplicateSettings,
    RetentionSettings,
    WhatWorkedSettings,
)
from memcore.sections import (
    SectionT,
    check_environment,
    configuration_error,
    field_names,
    load_section,
    section_model,
    section_names,
    sections_elsewhere,
    split_overrides,
)
from memcore.state import default_state_dir
from memcore.validation import Limits

__all__ = [
    "AuditSettings",
    "BreakerSettings",
    "CacheSettings",
    "DegradationSettings",
    "DuplicateSettings",
    "EncryptionSettings",
    "HashingSettings",
    "HealthSettings",
    "InMemorySettings",
    "LoggingSettings",
    "MemcoreSettings",
    "MetricsSettings",
    "RateLimitSettings",
    "RetentionSettings",
    "RetrySettings",
    "WhatWorkedSettings",
    "configuration_error",
    "load_settings",
    "state_dir",
]

ENV_PREFIX = "MEMCORE_"


class InMemorySettings(BaseModel):
    """The in-memory store (``MEMCORE_MEMORY__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    snapshot_path: Path | None = Field(
        default=None, description="File that keeps data between runs; unset keeps none."
    )


class HashingSettings(BaseModel):
    """The offline hashing embedder (``MEMCORE_HASHING__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dimension: int = Field(default=384, ge=2, le=8192, description="Vector length.")


class LoggingSettings(BaseModel):
    """Logs (``MEMCORE_LOGGING__*``), applied by :func:`memcore.observability.configure_logging`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["json", "console"] = Field(
        default="console", description="JSON lines for machines or a human console line."
    )
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Lowest level written."
    )
    file: Path | None = Field(default=None, description="Also write to this rotating file.")
    file_max_bytes: int = Field(default=10_000_000, ge=1_000, description="Rotate at this size.")
    file_backups: int = Field(default=5, ge=0, description="Rotated files kept.")
    user_id: Literal["plain", "hashed", "omitted"] = Field(
        default="hashed", description="How user ids appear in logs (hashed: a sha256 prefix)."
    )
    log_content: bool = Field(
        default=False, description="Log memory content (texts, queries, metadata). Debug only."
    )


class RetrySettings(BaseModel):
    """Retries of retryable store and embedder errors (``MEMCORE_RETRY__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="Wrap the store and embedder in retries.")
    max_attempts: int = Field(default=3, ge=1, le=100, description="Attempts including the first.")
    base_delay: float = Field(default=0.05, ge=0, description="First backoff ceiling, seconds.")
    max_delay: float = Field(default=2.0, ge=0, description="Largest single backoff, seconds.")
    deadline: float | None = Field(
        default=10.0, gt=0, description="No retry starts past this many seconds; unset: none."
    )


class HealthSettings(BaseModel):
    """Health checks (``MEMCORE_HEALTH__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    check_on_start: Literal["off", "warn", "fail"] = Field(
        default="off",
        description="Run health() in start(): warn logs an unhealthy report, fail raises.",
    )


class MetricsSettings(BaseModel):
    """Prometheus metrics (``MEMCORE_METRICS__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="Record metrics and instrument the ports.")
    host: str = Field(default="127.0.0.1", description="Address `memcore serve-metrics` binds.")
    port: int = Field(default=9464, ge=0, le=65535, description="Port of `serve-metrics`.")


class BreakerSettings(BaseModel):
    """Circuit breakers of the store and the embedder (``MEMCORE_BREAKER__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="Put a breaker in front of both ports.")
    failure_rate: float = Field(
        default=0.5, gt=0, le=1, description="Open at this share of failed calls..."
    )
    min_calls: int = Field(default=10, ge=1, description="...once this many calls ended...")
    window: float = Field(default=30.0, gt=0, description="...in this many seconds.")
    open_for: float = Field(default=5.0, gt=0, description="Seconds open before a probe.")


class DegradationSettings(BaseModel):
    """What happens while the store is unavailable (``MEMCORE_DEGRADATION__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: Literal["degrade", "raise"] = Field(
        default="degrade",
        description="degrade: defer writes to the outbox, answer reads empty; raise: fail.",
    )
    outbox: Literal["durable", "memory"] = Field(
        default="durable",
        description="durable: deferred writes are fsynced to disk and survive the process "
        "(replayed by the next one); memory: lost if the process exits before the store is back.",
    )
    outbox_capacity: int = Field(default=10_000, ge=1, description="Records the outbox holds.")
    outbox_path: Path | None = Field(
        default=None,
        description="Directory of the durable outbox's journals; unset: a directory per store "
        "under the state directory.",
    )
    replay_interval: float = Field(
        default=1.0, gt=0, description="Seconds between attempts to replay the outbox."
    )


class CacheSettings(BaseModel):
    """The embedding cache (``MEMCORE_CACHE__*``): repeated texts skip the model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: str = Field(
        default="none",
        description="none, memory (this process, LRU) or a registered cache, e.g. redis "
        "(shared by processes).",
    )
    max_entries: int = Field(default=10_000, ge=1, description="Vectors the memory cache keeps.")


class RateLimitSettings(BaseModel):
    """Rate limits (``MEMCORE_RATE_LIMIT__*``); unset rates mean unlimited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_user: float | None = Field(default=None, gt=0, description="Calls per second per user.")
    per_user_burst: int = Field(default=20, ge=1, description="Calls a user may make at once.")
    overall: float | None = Field(default=None, gt=0, description="Calls per second in all.")
    overall_burst: int = Field(default=200, ge=1, description="Calls at once, in all.")
    backend: str = Field(
        default="memory",
        description="memory (this process) or a registered limiter, e.g. redis (shared).",
    )


class EncryptionSettings(BaseModel):
    """Encryption of memory content at rest (``MEMCORE_ENCRYPTION__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=False, description="Encrypt texts and metadata values.")
    keys: dict[str, SecretStr] = Field(
        default_factory=dict, description='JSON {"key id": "base64 32-byte key"}.'
    )
    primary_key: str | None = Field(default=None, description="Id of the key that encrypts.")
    per_user_keys: bool = Field(
        default=False, description="A data key per user, for crypto-shredding."
    )
    data_key_store: str = Field(
        default="file",
        description="Where wrapped per-user keys live: file, or a registered store (redis).",
    )
    data_key_file: Path | None = Field(default=None, description="The file of data_key_store=file.")
    filterable_metadata: tuple[str, ...] = Field(
        default=(), description="Metadata keys kept in clear so filters can match them."
    )

    @model_validator(mode="after")
    def _complete(self) -> EncryptionSettings:
        if self.enabled and (not self.keys or self.primary_key is None):
            raise ValueError("encryption needs keys and primary_key")
        file_store = self.data_key_store == "file"
        if self.enabled and self.per_user_keys and file_store and self.data_key_file is None:
            raise ValueError("per_user_keys with data_key_store=file needs data_key_file")
        return self


class AuditSettings(BaseModel):
    """The audit log of data access (``MEMCORE_AUDIT__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=False, description="Audit every store call.")
    sink: str = Field(
        default="log", description="log (logger memcore.audit), file, or a registered sink."
    )
    file: Path | None = Field(default=None, description="JSON Lines file for sink=file.")
    fsync: Literal["always", "never"] = Field(
        default="always", description="Sync each event to disk before the call returns."
    )
    actor: str | None = Field(default=None, description="Actor when none is set per call.")

    @model_validator(mode="after")
    def _file_given(self) -> AuditSettings:
        if self.enabled and self.sink == "file" and self.file is None:
            raise ValueError("sink=file needs file")
        return self


class MemcoreSettings(BaseSettings):
    """Everything the core needs; adapters read their own sections (:meth:`section`)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    store: str = Field(default="memory", description="Store backend name (entry point).")
    state_dir: Path | None = Field(
        default=None,
        description="Directory for state that must survive a crash (durable outbox, CLI "
        "snapshot, data epochs); unset: the platform's per-user state directory.",
    )
    embedder: str = Field(
        default="auto",
        description="Embedder backend name (entry point); `auto` is `local` when "
        "agent-memcore-sentence-transformers is installed, else the offline `hashing` embedder.",
    )
    limits: Limits = Field(default_factory=Limits)
    memory: InMemorySettings = Field(default_factory=InMemorySettings)
    hashing: HashingSettings = Field(default_factory=HashingSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    degradation: DegradationSettings = Field(default_factory=DegradationSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    encryption: EncryptionSettings = Field(default_factory=EncryptionSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    what_worked: WhatWorkedSettings = Field(default_factory=WhatWorkedSettings)
    duplicates: DuplicateSettings = Field(default_factory=DuplicateSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    _sections: dict[str, BaseSettings] = PrivateAttr(default_factory=dict)

    def section(self, name: str, model: type[SectionT]) -> SectionT:
        """The adapter settings ``name`` (``redis``): as given to :func:`load_settings`,
        else read from the model's environment prefix once, on first use.
        """
        found = self._sections.get(name)
        if found is None:
            found = self._sections[name] = load_section(model)
        if not isinstance(found, model):
            raise ConfigurationError(
                f"settings {name!r} are a {type(found).__name__}, not a {model.__name__}"
            )
        return found


def state_dir(settings: MemcoreSettings) -> Path:
    """``settings.state_dir``, or the platform's per-user state directory."""
    return settings.state_dir if settings.state_dir is not None else default_state_dir()


def load_settings(**overrides: Any) -> MemcoreSettings:
    """Read settings from the environment and ``.env``; ``overrides`` win over both.

    ``overrides`` are core settings (``store="redis"``) and adapter sections, each a dict
    or its settings model (``redis={"url": "redis://..."}``). Raises
    :class:`~memcore.errors.ConfigurationError` naming the first bad setting as its
    environment variable (``MEMCORE_LIMITS__MAX_K``), and for an unknown keyword or
    ``MEMCORE_*`` variable, with the nearest known name.
    """
    sections = section_names()
    given = split_overrides(overrides, MemcoreSettings.model_fields, sections)
    known = field_names(MemcoreSettings, ENV_PREFIX, delimiter="__")
    check_environment(ENV_PREFIX, known, elsewhere=sections_elsewhere(sections))
    try:
        settings = MemcoreSettings(**{k: v for k, v in overrides.items() if k not in given})
    except pydantic.ValidationError as exc:
        raise configuration_error(exc, ENV_PREFIX) from exc
    for name, value in given.items():
        model = section_model(name)
        if isinstance(value, BaseSettings):
            if not isinstance(value, model):
                raise ConfigurationError(f"{name}= takes a {model.__name__} or a dict")
            settings._sections[name] = value  # noqa: SLF001 - the settings' own cache
        else:
            settings._sections[name] = load_section(model, **value)  # noqa: SLF001
    return settings
