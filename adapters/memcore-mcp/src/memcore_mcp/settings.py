"""``memcore mcp`` settings: ``MEMCORE_MCP__*`` (the core's own stay under ``MEMCORE_*``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from memcore import validate_user_id
from memcore.sections import load_section
from memcore.security.credentials import Credentials

__all__ = ["ENV_PREFIX", "McpSettings", "load_mcp_settings"]

ENV_PREFIX = "MEMCORE_MCP__"

Transport = Literal["stdio", "http"]


class McpSettings(BaseSettings):
    """Which transport, and whose memories a session may touch."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    user_id: str | None = Field(
        default=None, description="transport=stdio: the one user this server acts for."
    )
    tokens: Credentials = Field(
        default_factory=dict,
        description='transport=http: JSON {"<bearer token>": "<user id>"}; a session acts for '
        "the user its token names.",
    )
    host: str = Field(default="127.0.0.1", description="transport=http: bind address.")
    port: int = Field(default=8765, ge=0, le=65535, description="transport=http: port.")
    path: str = Field(default="/mcp", description="transport=http: the endpoint's path.")
    blas_threads: int = Field(
        default=1,
        ge=1,
        description="Threads numpy's BLAS may use (the in-memory store scores with it). "
        "Calls already run concurrently; more threads than free cores make each "
        "search wait for the others.",
    )
    allow_forget: bool = Field(
        default=False, description="Offer the forget_me tool (deletes every memory of the user)."
    )
    transport: Transport = Field(
        default="stdio",
        validate_default=True,  # checked last, as it reads the fields above
        description="stdio (one user per process) or http (streamable HTTP, bearer tokens).",
    )

    @field_validator("user_id")
    @classmethod
    def _valid_user(cls, user_id: str | None) -> str | None:
        return None if user_id is None else validate_user_id(user_id)

    @field_validator("transport")
    @classmethod
    def _scoped(cls, transport: Transport, info: ValidationInfo) -> Transport:
        if transport == "stdio" and not info.data.get("user_id"):
            raise ValueError("stdio needs MEMCORE_MCP__USER_ID (or --user)")
        if transport == "http" and not info.data.get("tokens"):
            raise ValueError("http needs MEMCORE_MCP__TOKENS")
        return transport


def load_mcp_settings(**overrides: Any) -> McpSettings:
    """Read ``MEMCORE_MCP__*``; raises ConfigurationError naming the first bad setting, or
    an unknown name with the nearest known one.
    """
    return load_section(McpSettings, **overrides)
