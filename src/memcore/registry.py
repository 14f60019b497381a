"""Backends by name, found through entry points and imported on first use.

A distribution registers a store or embedder class in its ``pyproject.toml``::

    [project.entry-points."memcore.stores"]
    redis = "memcore_redis:RedisStore"

The class must have ``from_settings(settings: MemcoreSettings)``. Nothing is imported
until a backend is asked for by name, so an installed but unused adapter costs nothing.
Tests and applications add a backend without an entry point: :func:`register_store`,
:func:`register_embedder` (fsspec's ``register_implementation``).
Shared rate limiters (``memcore.rate_limiters``), audit sinks (``memcore.audit_sinks``),
embedding caches (``memcore.embedding_caches``) and per-user data key stores
(``memcore.data_key_stores``) are found the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from memcore.caching import EmbeddingCache
from memcore.errors import AdapterNotFoundError, ConfigurationError
from memcore.ports import Embedder, MemoryStore
from memcore.resilience.ratelimit import RateLimiter
from memcore.security.audit import AuditSink
from memcore.settings import MemcoreSettings

if TYPE_CHECKING:  # the keyring needs the optional `cryptography` package at run time
    from memcore.security.keyring import DataKeyStore

T_co = TypeVar("T_co", covariant=True)

AUTO = "auto"
_log = logging.getLogger(__name__)

STORES_GROUP = "memcore.stores"
EMBEDDERS_GROUP = "memcore.embedders"

# Where to get the backends we know of, for the "install ..." hint.
INSTALL_HINTS: Mapping[str, str] = {
    "redis": "agent-memcore-redis (pip install 'agent-memcore[redis]')",
    "openai": "agent-memcore-openai (pip install 'agent-memcore[openai]')",
    "local": "agent-memcore-sentence-transformers (pip install 'agent-memcore[local]')",
}


class BackendFactory(Protocol[T_co]):
    """What an entry point names: a class (or object) that builds a backend from settings."""

    def from_settings(self, settings: MemcoreSettings) -> T_co: ...


@dataclass(frozen=True)
class Registry(Generic[T_co]):
    """Names to ``"module:attr"`` targets for one entry-point group."""

    group: str
    kind: str
    setting: str = ""
    """The setting that names the backend (default ``MEMCORE_<KIND>``)."""
    hints: Mapping[str, str] = field(default_factory=lambda: INSTALL_HINTS)
    auto: tuple[str, ...] = ()
    """What the name ``auto`` means: the first of these that is installed."""
    registered: dict[str, BackendFactory[T_co]] = field(default_factory=dict)
    """Backends added in code (:meth:`register`); they win over entry points."""

    def register(self, name: str, factory: BackendFactory[T_co], *, replace: bool = False) -> None:
        """Make ``factory`` the backend ``name``; an existing name needs ``replace=True``."""
        if name in self.names() and not replace:
            raise ConfigurationError(
                f"{self.kind} {name!r} is already registered; pass replace=True to replace it"
            )
        self.registered[name] = factory

    def unregister(self, name: str) -> None:
        """Forget a backend added with :meth:`register` (entry points stay)."""
        self.registered.pop(name, None)

    def names(self) -> list[str]:
        """Every registered backend name, sorted."""
        return sorted({ep.name for ep in entry_points(group=self.group)} | set(self.registered))

    def load(self, name: str) -> BackendFactory[T_co]:
        """Import and return the factory registered as ``name``.

        Raises :class:`~memcore.errors.AdapterNotFoundError` with an install hint when no
        installed package provides it or its package fails to import.
        """
        if name in self.registered:
            return self.registered[name]
        found = [ep for ep in entry_points(group=self.group) if ep.name == name]
        setting = self.setting or f"MEMCORE_{self.kind.upper()}"
        if not found:
            hint = self.hints.get(name)
            known = ", ".join(self.names()) or "none"
            advice = (
                f"install {hint} to use {self.kind} {name!r}"
                if hint
                else f"no {self.kind} {name!r} is installed; known: {known}"
            )
            raise AdapterNotFoundError(advice, setting=setting)
        module_name, _, attr = found[0].value.partition(":")
        try:
            target = import_module(module_name)
        except ImportError as exc:
            raise AdapterNotFoundError(
                f"{self.kind} {name!r} is registered but cannot be imported ({exc}); "
                f"reinstall {self.hints.get(name, found[0].value)}",
                setting=setting,
            ) from exc
        for part in attr.split("."):
            target = getattr(target, part)
        return target

    def resolve(self, name: str) -> str:
        """``name`` itself, or for ``auto`` the first installed backend of :attr:`auto`."""
        if name != AUTO or not self.auto:
            return name
        installed = set(self.names())
        chosen = next(
            (candidate for candidate in self.auto if candidate in installed), self.auto[-1]
        )
        if chosen != self.auto[0]:
            _log.warning(
                "%s 'auto' chose %r: %r is not installed (install %s)",
                self.kind,
                chosen,
                self.auto[0],
                self.hints.get(self.auto[0], self.auto[0]),
            )
        return chosen

    def create(self, settings: MemcoreSettings, name: str) -> T_co:
        """Build the backend ``name`` (``auto`` resolved first) from ``settings``."""
        return self.load(self.resolve(name)).from_settings(settings)


stores: Registry[MemoryStore] = Registry(STORES_GROUP, "store")
# `auto`: the local model when agent-memcore-sentence-transformers is installed, else the offline
# hashing embedder. A store created with one refuses the other (schema handshake).
embedders: Registry[Embedder] = Registry(EMBEDDERS_GROUP, "embedder", auto=("local", "hashing"))
rate_limiters: Registry[RateLimiter] = Registry(
    "memcore.rate_limiters", "rate limiter", setting="MEMCORE_RATE_LIMIT__BACKEND"
)
audit_sinks: Registry[AuditSink] = Registry(
    "memcore.audit_sinks", "audit sink", setting="MEMCORE_AUDIT__SINK"
)
embedding_caches: Registry[EmbeddingCache] = Registry(
    "memcore.embedding_caches", "embedding cache", setting="MEMCORE_CACHE__BACKEND"
)
data_key_stores: Registry[DataKeyStore] = Registry(
    "memcore.data_key_stores", "data key store", setting="MEMCORE_ENCRYPTION__DATA_KEY_STORE"
)


def register_store(
    name: str, factory: BackendFactory[MemoryStore], *, replace: bool = False
) -> None:
    """Make ``factory`` (a class with ``from_settings``) the store ``name``, so that
    ``connect(store=name)`` and ``MEMCORE_STORE=name`` build it, with no entry point.
    """
    stores.register(name, factory, replace=replace)


def register_embedder(
    name: str, factory: BackendFactory[Embedder], *, replace: bool = False
) -> None:
    """Make ``factory`` (a class with ``from_settings``) the embedder ``name``."""
    embedders.register(name, factory, replace=replace)
