"""Settings of the OpenAI embedder: memcore's settings section ``openai``.

Read from ``MEMCORE_OPENAI_*`` when the embedder is built, or given in code as
``memcore.connect(embedder="openai", openai={"api_key": ...})``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from memcore.sections import load_section
from memcore.settings import MemcoreSettings

SECTION = "openai"
ENV_PREFIX = "MEMCORE_OPENAI_"


class OpenAISettings(BaseSettings):
    """Where and how to call the embeddings API.

    ``api_key`` is required for api.openai.com; with ``base_url`` (a compatible server
    such as Ollama or vLLM, or Azure with an ``api-key`` extra header) it may be unset.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        protected_namespaces=(),
    )

    base_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="API root such as http://localhost:11434/v1; unset is api.openai.com.",
    )
    api_key: SecretStr | None = Field(
        default=None, validate_default=True, description="Bearer API key."
    )
    model: str = Field(default="text-embedding-3-small", min_length=1)
    dimensions: int = Field(default=1536, ge=1, le=65_536, description="Vector length expected.")
    send_dimensions: bool = Field(
        default=True,
        description="Send `dimensions` in requests (text-embedding-3 models); turn off for "
        "models or servers that reject it.",
    )
    extra_headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='JSON object of headers sent with every request, e.g. {"api-key": "..."}.',
    )
    organization: str | None = None
    project: str | None = None
    encoding_format: Literal["base64", "float"] = Field(
        default="base64", description="Wire format of vectors; float for servers without base64."
    )
    timeout: float = Field(default=20.0, gt=0, le=600, description="Seconds per request.")
    max_retries: int = Field(default=5, ge=0, le=20, description="Retries of transient failures.")
    deadline: float = Field(
        default=60.0, gt=0, le=3600, description="Seconds for a whole embed call, retries included."
    )
    max_inputs_per_request: int = Field(default=2048, ge=1, le=2048)
    max_tokens_per_request: int = Field(
        default=300_000, ge=1, description="Token budget of one request (estimated)."
    )

    @field_validator("api_key")
    @classmethod
    def _key_unless_own_server(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        # base_url is declared first, so it is validated (and in info.data) by now.
        if value is None and info.data.get("base_url") is None:
            msg = "api_key is required unless base_url points at a server that needs none"
            raise ValueError(msg)
        return value

    @classmethod
    def load(cls) -> OpenAISettings:
        """Read the environment; a bad value raises ConfigurationError naming its variable."""
        return load_section(cls)


def openai_settings(settings: MemcoreSettings) -> OpenAISettings:
    """The ``openai`` section of ``settings``."""
    return settings.section(SECTION, OpenAISettings)
