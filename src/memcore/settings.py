"""Configuration from the environment (``MEMCORE_*``), a ``.env`` file, or code.

Nested settings use ``__``: ``MEMCORE_LIMITS__MAX_K=50``. Adapter distributions read
their own settings under their own prefix (``MEMCORE_REDIS_URL``...) when they are built.
Nothing is read at import time: call :func:`load_settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from memcore.errors import ConfigurationError
from memcore.validation import Limits

__all__ = ["HashingSettings", "InMemorySettings", "MemcoreSettings", "load_settings"]

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


class MemcoreSettings(BaseSettings):
    """Everything the core needs; adapters add their own prefixed settings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    store: str = Field(default="memory", description="Store backend name (entry point).")
    embedder: str = Field(default="hashing", description="Embedder backend name (entry point).")
    limits: Limits = Field(default_factory=Limits)
    memory: InMemorySettings = Field(default_factory=InMemorySettings)
    hashing: HashingSettings = Field(default_factory=HashingSettings)


def load_settings(**overrides: Any) -> MemcoreSettings:
    """Read settings from the environment and ``.env``; ``overrides`` win over both.

    Raises :class:`~memcore.errors.ConfigurationError` naming the first bad setting as
    its environment variable (``MEMCORE_LIMITS__MAX_K``).
    """
    try:
        return MemcoreSettings(**overrides)
    except pydantic.ValidationError as exc:
        raise configuration_error(exc, ENV_PREFIX) from exc


def configuration_error(exc: pydantic.ValidationError, prefix: str) -> ConfigurationError:
    """Turn a pydantic error into a :class:`ConfigurationError` naming the variable."""
    first = exc.errors()[0]
    setting = prefix + "__".join(str(part) for part in first["loc"]).upper()
    return ConfigurationError(f"invalid setting {setting}: {first['msg']}", setting=setting)
