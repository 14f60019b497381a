"""``memcore mcp`` settings: ``MEMCORE_MCP__*`` (the core's own stay under ``MEMCORE_*``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from memcore import Scope, validate_user_id
from memcore.sections import load_section
from memcore.security.credentials import long_secrets

__all__ = ["ENV_PREFIX", "McpSettings", "Principal", "load_mcp_settings"]

ENV_PREFIX = "MEMCORE_MCP__"

Transport = Literal["stdio", "http"]


def _scope_field(value: str | None, info: ValidationInfo) -> str | None:
    """``agent_id`` or ``session_id`` checked by the core's scope rule."""
    field = info.field_name or ""
    return None if value is None else str(Scope(**{field: value}).fields[field])


class Principal(BaseModel):
    """Whom a session acts for (the process's over stdio, its bearer token's over http):
    a user, optionally only one agent and/or session of theirs. A bare user id stands
    for ``{"user_id": ...}``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str
    agent_id: str | None = None
    session_id: str | None = None

    _valid_user = field_validator("user_id")(validate_user_id)
    _valid_scope = field_validator("agent_id", "session_id")(_scope_field)

    @model_validator(mode="before")
    @classmethod
    def _bare_user(cls, holder: object) -> object:
        return {"user_id": holder} if isinstance(holder, str) else holder

    @property
    def scope(self) -> Scope:
        """The scope it is bound to (``Scope()``: the whole user)."""
        return Scope(self.agent_id, self.session_id)


def _holders(tokens: object) -> object:
    """Each token's principal, checked here so that no error names (shows) a token."""
    if not isinstance(tokens, dict):
        return tokens  # refused by the field's type
    secrets = long_secrets({SecretStr(str(token)): held for token, held in tokens.items()})
    return {secret: _principal(held) for secret, held in secrets.items()}


def _principal(held: object) -> Principal:
    try:
        return Principal.model_validate(held)
    except PydanticValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(map(str, problem["loc"])) or "principal"
        raise ValueError(f"a token's {where}: {problem['msg']}") from None


Tokens = Annotated[dict[SecretStr, Principal], BeforeValidator(_holders)]


class McpSettings(BaseSettings):
    """Which transport, and whose memories a session may touch."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    user_id: str | None = Field(
        default=None, description="transport=stdio: the one user this server acts for."
    )
    agent_id: str | None = Field(
        default=None, description="transport=stdio: only this agent's memories of the user."
    )
    session_id: str | None = Field(
        default=None, description="transport=stdio: only this session's memories of the user."
    )
    tokens: Tokens = Field(
        default_factory=dict,
        description='transport=http: JSON {"<bearer token>": "<user id>"}, or '
        '{"<bearer token>": {"user_id": ..., "agent_id": ..., "session_id": ...}} to bind '
        "the token to an agent and/or session; a session acts for what its token names.",
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

    _valid_scope = field_validator("agent_id", "session_id")(_scope_field)

    @field_validator("transport")
    @classmethod
    def _scoped(cls, transport: Transport, info: ValidationInfo) -> Transport:
        if transport == "stdio" and not info.data.get("user_id"):
            raise ValueError("stdio needs MEMCORE_MCP__USER_ID (or --user)")
        if transport == "http" and not info.data.get("tokens"):
            raise ValueError("http needs MEMCORE_MCP__TOKENS")
        if transport == "http" and (info.data.get("agent_id") or info.data.get("session_id")):
            raise ValueError("http binds scopes per token, in MEMCORE_MCP__TOKENS")
        return transport


def load_mcp_settings(**overrides: Any) -> McpSettings:
    """Read ``MEMCORE_MCP__*``; raises ConfigurationError naming the first bad setting, or
    an unknown name with the nearest known one.
    """
    return load_section(McpSettings, **overrides)
