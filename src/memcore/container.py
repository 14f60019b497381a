"""The composition root: the one place backends are chosen and wired.

The only module that imports ``dependency_injector``. Tests replace any part with
``container.store.override(providers.Object(my_store))``; everything else takes plain
constructor arguments and can be built by hand.

The backend the registry builds is wrapped, outermost first, as::

    store:    Audited(Encrypting(Degrading(Breaker(Instrumented(Retrying(backend))))))
    embedder: Breaker(Instrumented(Retrying(backend)))

The retry layer sees each attempt, the metrics layer the whole call as the caller felt
it (retries are counted separately); the breaker judges calls after their retries and
fails fast while open; degradation defers writes and answers reads empty while the
store is away; the outbox holds ciphertext because encryption sits above it; the audit
log sees every call as the application made it. ``docs/reliability.md`` explains the
order. Every layer satisfies the ports, and a setting turns each off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dependency_injector import containers, providers

from memcore import registry
from memcore.observability import InstrumentedEmbedder, InstrumentedStore, Metrics, Telemetry
from memcore.ports import Embedder, MemoryStore
from memcore.resilience import RetryConfig, RetryingEmbedder, RetryingStore
from memcore.resilience.breaker import BreakerConfig, BreakerEmbedder, BreakerStore, CircuitBreaker
from memcore.resilience.degrade import DegradingStore
from memcore.resilience.outbox import Outbox
from memcore.resilience.ratelimit import InProcessRateLimiter, Rate, RateLimiter, RateLimits
from memcore.security.audit import AuditedStore, AuditSink, JsonlAuditSink, LoggingAuditSink
from memcore.service import MemoryService
from memcore.settings import MemcoreSettings, RetrySettings, load_settings

PortT = TypeVar("PortT", MemoryStore, Embedder)


def _retry_config(settings: RetrySettings) -> RetryConfig:
    return RetryConfig(**settings.model_dump(exclude={"enabled"}))


def _create_metrics(settings: MemcoreSettings) -> Metrics | None:
    return Metrics() if settings.metrics.enabled else None


def _breaker(
    name: str, backend: str, settings: MemcoreSettings, metrics: Metrics | None
) -> CircuitBreaker:
    config = BreakerConfig(**settings.breaker.model_dump(exclude={"enabled"}))
    listener = metrics.breaker_listener(backend) if metrics else None
    return CircuitBreaker(name, config, on_change=listener)


@dataclass(frozen=True)
class _Guards(Generic[PortT]):
    """The retry, metrics and breaker layers of one port, innermost first."""

    name: str
    retrying: Callable[..., PortT]
    instrumented: Callable[[PortT, Metrics], PortT]
    breaking: Callable[[PortT, CircuitBreaker], PortT]

    def wrap(self, port: PortT, settings: MemcoreSettings, metrics: Metrics | None) -> PortT:
        """``port`` inside the layers its settings turn on."""
        backend = port.backend
        if settings.retry.enabled:
            listener = metrics.retry_listener(backend) if metrics else None
            port = self.retrying(port, _retry_config(settings.retry), on_retry=listener)
        if metrics:
            port = self.instrumented(port, metrics)
        if settings.breaker.enabled:
            port = self.breaking(port, _breaker(self.name, backend, settings, metrics))
        return port


_STORE_GUARDS = _Guards[MemoryStore]("store", RetryingStore, InstrumentedStore, BreakerStore)
_EMBEDDER_GUARDS = _Guards[Embedder](
    "embedder", RetryingEmbedder, InstrumentedEmbedder, BreakerEmbedder
)


def _create_store(settings: MemcoreSettings, metrics: Metrics | None) -> MemoryStore:
    store = _STORE_GUARDS.wrap(registry.stores.create(settings, settings.store), settings, metrics)
    degradation = settings.degradation
    if degradation.policy == "degrade":
        outbox = Outbox(degradation.outbox_capacity, path=degradation.outbox_path)
        if metrics:
            outbox.on_event = metrics.watch_outbox(outbox)
        store = DegradingStore(
            store,
            outbox,
            replay_interval=degradation.replay_interval,
            on_degraded_read=metrics.degraded_read if metrics else None,
        )
    if settings.encryption.enabled:
        store = _encrypting(store, settings)
    if settings.audit.enabled:
        store = AuditedStore(store, _audit_sink(settings), actor=settings.audit.actor)
    return store


def _encrypting(store: MemoryStore, settings: MemcoreSettings) -> MemoryStore:
    # Imported here: encryption needs the optional `cryptography` package.
    from memcore.security.encryption import EncryptingStore  # noqa: PLC0415
    from memcore.security.keyring import (  # noqa: PLC0415
        DataKeyStore,
        Keyring,
        KeySource,
        MasterKeys,
        UserDataKeys,
    )
    from memcore.security.keystores import FileDataKeyStore  # noqa: PLC0415

    encryption = settings.encryption
    keyring = Keyring.from_secrets(encryption.keys, encryption.primary_key or "")
    keys: KeySource = MasterKeys(keyring)
    if encryption.per_user_keys:
        data_keys: DataKeyStore = (
            FileDataKeyStore(encryption.data_key_file)
            if encryption.data_key_store == "file" and encryption.data_key_file is not None
            else registry.data_key_stores.create(settings, encryption.data_key_store)
        )
        keys = UserDataKeys(keyring, data_keys)
    return EncryptingStore(store, keys, filterable_metadata=encryption.filterable_metadata)


def _audit_sink(settings: MemcoreSettings) -> AuditSink:
    audit = settings.audit
    if audit.sink == "log":
        return LoggingAuditSink()
    if audit.sink == "file" and audit.file is not None:
        return JsonlAuditSink(audit.file, fsync=audit.fsync)
    return registry.audit_sinks.create(settings, audit.sink)


def _create_embedder(settings: MemcoreSettings, metrics: Metrics | None) -> Embedder:
    embedder = registry.embedders.create(settings, settings.embedder)
    return _EMBEDDER_GUARDS.wrap(embedder, settings, metrics)


def _create_rate_limits(settings: MemcoreSettings, metrics: Metrics | None) -> RateLimits | None:
    limits = settings.rate_limit
    if limits.per_user is None and limits.overall is None:
        return None
    limiter: RateLimiter = (
        InProcessRateLimiter()
        if limits.backend == "memory"
        else registry.rate_limiters.create(settings, limits.backend)
    )
    return RateLimits(
        limiter,
        per_user=None if limits.per_user is None else Rate(limits.per_user, limits.per_user_burst),
        overall=None if limits.overall is None else Rate(limits.overall, limits.overall_burst),
        on_limited=metrics.limited if metrics else None,
    )


def _degrades(settings: MemcoreSettings) -> bool:
    return settings.degradation.policy == "degrade"


def _create_telemetry(settings: MemcoreSettings, metrics: Metrics | None) -> Telemetry:
    return Telemetry(
        metrics=metrics,
        user_ids=settings.logging.user_id,
        log_content=settings.logging.log_content,
    )


class Container(containers.DeclarativeContainer):
    """Settings -> store and embedder (by name, through the registry) -> MemoryService."""

    settings = providers.Singleton(load_settings)
    metrics = providers.Singleton(_create_metrics, settings)
    store = providers.Singleton(_create_store, settings, metrics)
    embedder = providers.Singleton(_create_embedder, settings, metrics)
    telemetry = providers.Singleton(_create_telemetry, settings, metrics)
    rate_limits = providers.Singleton(_create_rate_limits, settings, metrics)
    service = providers.Singleton(
        MemoryService,
        store=store,
        embedder=embedder,
        limits=settings.provided.limits,
        telemetry=telemetry,
        check_on_start=settings.provided.health.check_on_start,
        rate_limits=rate_limits,
        degrade_searches=providers.Callable(_degrades, settings),
    )


async def build_service(container: Container | None = None, **overrides: Any) -> MemoryService:
    """Build and start the service from ``container`` (a fresh one by default).

    ``overrides`` are settings (``store="memory"``, ``embedder="local"``...) that win over
    the environment.
    """
    container = container or Container()
    if overrides:
        container.settings.override(providers.Singleton(load_settings, **overrides))
    service: MemoryService = container.service()
    try:
        await service.start()
    except BaseException:
        await service.aclose()
        raise
    return service
