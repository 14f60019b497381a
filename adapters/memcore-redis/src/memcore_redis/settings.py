"""Settings of the Redis store: memcore's settings section ``redis``.

Read from ``MEMCORE_REDIS_*`` when the store is built, or given in code as
``memcore.connect(store="redis", redis={"url": ...})``.

Credentials never show: ``repr``/``str`` print the URL with its password replaced
(:func:`redact_url`), ``password`` is a ``SecretStr``, and a setting that fails to parse
is reported without its value (a URL may hold a password).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from memcore.sections import load_section
from memcore.settings import MemcoreSettings

SECTION = "redis"
ENV_PREFIX = "MEMCORE_REDIS_"

# Key prefixes go into keys, index PREFIX clauses and SCAN patterns: keep them boring.
_PREFIX_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class RedisSettings(BaseSettings):
    """Everything :class:`~memcore_redis.RedisStore` needs.

    Each field is read from ``MEMCORE_REDIS_<FIELD NAME>``.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    url: str = Field(
        default="redis://localhost:6379/0",
        description="redis:// or rediss:// (TLS) URL; credentials are better set apart.",
    )
    key_prefix: str = Field(default="memcore", pattern=_PREFIX_PATTERN)
    index_name: str | None = Field(
        default=None, pattern=_PREFIX_PATTERN, description="Defaults to '<key_prefix>-idx'."
    )
    max_connections: int = Field(default=32, ge=1, le=10_000, description="Pool size.")
    pool_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3_600,
        description="Seconds a call waits for a free pooled connection before failing; "
        "under a burst, calls queue here rather than fail.",
    )
    socket_timeout: float = Field(default=5.0, gt=0, le=600)
    socket_connect_timeout: float = Field(default=5.0, gt=0, le=600)
    health_check_interval: int = Field(
        default=30, ge=0, le=3_600, description="Seconds idle before a pooled connection is PINGed."
    )
    health_index_info_interval: float = Field(
        default=30.0,
        ge=0,
        le=3_600,
        description="Seconds a healthy FT.INFO answer is reused by health checks (FT.INFO "
        "walks the whole index); a sick one is asked again on every check.",
    )
    username: str | None = Field(default=None, description="ACL user.")
    password: SecretStr | None = None
    tls: bool = Field(default=False, description="Use TLS even with a redis:// URL.")
    tls_ca_certs: Path | None = None
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    tls_cert_reqs: Literal["required", "optional", "none"] = "required"
    tls_check_hostname: bool = True
    storage_type: Literal["hash", "json"] = "hash"
    vector_algorithm: Literal["HNSW", "FLAT"] = "HNSW"
    vector_datatype: Literal["FLOAT32", "FLOAT16"] = "FLOAT32"
    hnsw_m: int = Field(default=16, ge=2, le=512)
    hnsw_ef_construction: int = Field(default=200, ge=1, le=4_096)
    hnsw_ef_runtime: int = Field(default=20, ge=1, le=4_096)
    hybrid_policy: Literal["auto", "adhoc_bf", "batches", "server"] = Field(
        default="auto",
        description=(
            "How a filtered KNN runs: 'auto' brute-forces small candidate sets and walks "
            "the HNSW graph in batches for large ones; 'server' lets RediSearch decide."
        ),
    )
    adhoc_max_candidates: int = Field(
        default=1_500,
        ge=0,
        le=10_000_000,
        description="'auto': brute force when a user's matching records are at most this many.",
    )
    delete_batch_size: int = Field(default=1_000, ge=1, le=10_000)
    redo_window: float = Field(
        default=5.0,
        ge=0,
        le=3_600,
        description="Seconds of acknowledged writes kept to send again when the server "
        "restarts (Redis may lose up to ~2 s of them with appendfsync everysec and a slow "
        "disk; more when a lagging replica is promoted). 0 keeps none.",
    )
    redo_max_writes: int = Field(
        default=10_000,
        ge=1,
        le=10_000_000,
        description="At most this many commands kept for the redo: its memory is about "
        "this many records' vector bytes and text.",
    )

    @field_validator("storage_type", "tls_cert_reqs", "hybrid_policy", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("vector_algorithm", "vector_datatype", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            msg = "must start with redis://, rediss:// or unix://"
            raise ValueError(msg)
        try:
            _ = urlsplit(value).port  # parses the host and port, or says why not
        except ValueError as exc:
            msg = f"is not a valid URL ({exc})"
            raise ValueError(msg) from None
        return value

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name == "url" else value

    @property
    def index(self) -> str:
        """The RediSearch index name."""
        return self.index_name or f"{self.key_prefix}-idx"

    @property
    def target(self) -> str:
        """The server and index, without credentials: ``redis://host:6379/0#<index>``."""
        parts = urlsplit(self.url)
        host = parts.netloc.rpartition("@")[2]
        return f"{urlunsplit((parts.scheme, host, parts.path, '', ''))}#{self.index}"

    @property
    def uses_tls(self) -> bool:
        """True for ``rediss://`` URLs or ``tls = true``."""
        return self.tls or self.url.startswith("rediss://")


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def load_redis_settings(**overrides: Any) -> RedisSettings:
    """Read ``MEMCORE_REDIS_*``; ``overrides`` win.

    Raises :class:`~memcore.errors.ConfigurationError` naming the variable, or for an
    unknown key or ``MEMCORE_REDIS_*`` name.
    """
    return load_section(RedisSettings, **overrides)


def redis_settings(settings: MemcoreSettings) -> RedisSettings:
    """The ``redis`` section of ``settings`` (what every ``from_settings`` here builds from)."""
    return settings.section(SECTION, RedisSettings)
