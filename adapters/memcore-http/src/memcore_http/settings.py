"""``memcore serve`` settings: ``MEMCORE_HTTP__*`` (the core's own stay under ``MEMCORE_*``)."""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from memcore.sections import load_section
from memcore.security.credentials import Credentials

__all__ = ["ENV_PREFIX", "HttpSettings", "load_http_settings"]

ENV_PREFIX = "MEMCORE_HTTP__"

AuthMode = Literal["api_key", "trusted_header", "none"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class HttpSettings(BaseSettings):
    """Where the service listens and how a request proves which user it acts for."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    host: str = Field(default="127.0.0.1", description="Bind address.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port; 0 picks a free one.")
    api_keys: Credentials = Field(
        default_factory=dict,
        description='auth=api_key: JSON {"<key>": "<user id>"}; clients send '
        "`Authorization: Bearer <key>`.",
    )
    trusted_header: str | None = Field(
        default=None,
        description="auth=trusted_header: the header your gateway sets to the authenticated "
        "user id (e.g. X-Authenticated-User). Only safe behind that gateway.",
    )
    dev_user: str = Field(default="dev", description="auth=none: the one user every call acts for.")
    max_body_bytes: int = Field(
        default=1_048_576, ge=1, description="Larger request bodies get 413, unread."
    )
    workers: int = Field(
        default=1, ge=1, description="Worker processes; more than one needs a shared store."
    )
    access_log: bool = Field(default=True, description="Log one line per request.")
    shutdown_timeout: int = Field(
        default=30, ge=1, description="Seconds in-flight requests get at shutdown."
    )
    blas_threads: int = Field(
        default=1,
        ge=1,
        description="Threads numpy's BLAS may use (the in-memory store scores with it). "
        "Requests already run concurrently; more threads than free cores make each "
        "search wait for the others.",
    )

    auth: AuthMode | None = Field(
        default=None,
        validate_default=True,  # checked last, as it reads the fields above
        description="How requests are bound to users: api_key, trusted_header, or none "
        "(development, loopback only). Unset: the server refuses to start.",
    )

    @field_validator("auth")
    @classmethod
    def _auth_is_complete(cls, auth: AuthMode | None, info: ValidationInfo) -> AuthMode:
        given = info.data
        if auth is None:
            raise ValueError("choose api_key, trusted_header or none (loopback only)")
        if auth == "api_key" and not given.get("api_keys"):
            raise ValueError("api_key needs MEMCORE_HTTP__API_KEYS")
        if auth == "trusted_header" and not given.get("trusted_header"):
            raise ValueError("trusted_header needs MEMCORE_HTTP__TRUSTED_HEADER")
        if auth == "none" and not is_loopback(given.get("host", "")):
            raise ValueError("none is for development: bind MEMCORE_HTTP__HOST to loopback")
        return auth


def load_http_settings(**overrides: Any) -> HttpSettings:
    """Read ``MEMCORE_HTTP__*``; raises ConfigurationError naming the first bad setting, or
    an unknown name with the nearest known one.
    """
    return load_section(HttpSettings, **overrides)
