"""Size limits on input (``MEMCORE_LIMITS__*``): what :mod:`memcore.validation` enforces
and what the field table's ``limit`` attributes name.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_LIMITS", "Limits"]


class Limits(BaseModel):
    """Size limits on input; raise them with care, every backend stores what they allow."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_text_chars: int = Field(default=8_000, ge=1, le=1_000_000)
    max_context_chars: int = Field(default=8_000, ge=0, le=1_000_000)
    max_task_chars: int = Field(default=256, ge=1, le=10_000)
    max_metadata_keys: int = Field(default=32, ge=0, le=1_000)
    max_metadata_value_chars: int = Field(default=1_024, ge=1, le=100_000)
    max_source_ids: int = Field(default=256, ge=1, le=100_000)
    max_outcome_history: int = Field(default=100, ge=1, le=10_000)
    max_k: int = Field(default=100, ge=1, le=10_000)
    max_batch: int = Field(default=1_000, ge=1, le=100_000)


DEFAULT_LIMITS = Limits()
