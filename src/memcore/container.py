"""The composition root: the one place backends and policies are chosen and wired.

The only module that imports ``dependency_injector``. Tests replace any part with
``container.store.override(providers.Object(my_store))``; everything else takes plain
constructor arguments and can be built by hand.

The pipeline is one ordered list, outermost first (:data:`POLICY_ORDER`), each entry
built from its settings and turned off by them::

    rate-limit  (service)   a token per operation, before anything is embedded
    audit       (store)     every call as the application made it, and its result
    encryption  (store)     seals content before anything below sees it
    degradation (store)     defers writes to the outbox (ciphertext: it is below
                            encryption), answers reads empty while the store is away
    cache       (embedder)  repeated texts answered without the model
    breaker     (store, embedder)  judges calls after their retries, fails fast
    metrics     (store, embedder)  each call as the caller felt it, retries included
    retry       (store, embedder)  each attempt; the one owner of retries (an adapter
                            that retries by itself, ``retries_itself = True``, owns
                            its own: the layer leaves its port alone)

``docs/reliability.md`` explains the order; ``memcore inspect`` prints the layers a
running service has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dependency_injector import containers, providers

from memcore import registry
from memcore.caching import CachePolicy, LRUEmbeddingCache
from memcore.errors import ConfigurationError
from memcore.observability import Metrics, MetricsPolicy, Telemetry
from memcore.pipeline import Policy, Port
from memcore.ports import Embedder, MemoryStore
from memcore.resilience import RetryConfig, RetryPolicy
from memcore.resilience.breaker import BreakerConfig, BreakerPolicy, CircuitBreaker
from memcore.resilience.degrade import DegradationPolicy
from memcore.resilience.outbox import Outbox
from memcore.resilience.ratelimit import (
    InProcessRateLimiter,
    Rate,
    RateLimiter,
    RateLimitPolicy,
    RateLimits,
)
from memcore.security.audit import AuditPolicy, AuditSink, JsonlAuditSink, LoggingAuditSink
from memcore.service import MemoryService
from memcore.settings import MemcoreSettings, load_settings, state_dir
from memcore.state import target_dir


@dataclass(frozen=True)
class Parts:
    """What a policy may be built from: the settings and the parts built before it."""

    settings: MemcoreSettings
    metrics: Metrics | None
    store: MemoryStore
    embedder: Embedder


PolicyFactory = Callable[[Parts], Sequence[Policy]]


def _rate_limit(parts: Parts) -> Sequence[Policy]:
    limits = parts.settings.rate_limit
    if limits.per_user is None and limits.overall is None:
        return ()
    limiter: RateLimiter = (
        InProcessRateLimiter()
        if limits.backend == "memory"
        else registry.rate_limiters.create(parts.settings, limits.backend)
    )
    rates = RateLimits(
        limiter,
        per_user=None if limits.per_user is None else Rate(limits.per_user, limits.per_user_burst),
        overall=None if limits.overall is None else Rate(limits.overall, limits.overall_burst),
        on_limited=parts.metrics.limited if parts.metrics else None,
    )
    return (RateLimitPolicy(rates),)


def _audit(parts: Parts) -> Sequence[Policy]:
    audit = parts.settings.audit
    if not audit.enabled:
        return ()
    sink: AuditSink
    if audit.sink == "log":
        sink = LoggingAuditSink()
    elif audit.sink == "file" and audit.file is not None:
        sink = JsonlAuditSink(audit.file, fsync=audit.fsync)
    else:
        sink = registry.audit_sinks.create(parts.settings, audit.sink)
    return (AuditPolicy(sink, backend=parts.store.backend, actor=audit.actor),)


def _encryption(parts: Parts) -> Sequence[Policy]:
    if not parts.settings.encryption.enabled:
        return ()
    try:  # imported here: encryption needs the optional `cryptography` package
        from memcore.security.setup import encryption_policy  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"encryption needs the {(exc.name or 'cryptography').partition('.')[0]!r} package: "
            "pip install 'agent-memcore[encryption]'",
            setting="MEMCORE_ENCRYPTION__ENABLED",
        ) from exc
    return (encryption_policy(parts.settings),)


def outbox_directory(settings: MemcoreSettings, store: MemoryStore) -> Path:
    """Where ``store``'s durable outbox keeps its journals."""
    configured = settings.degradation.outbox_path
    return configured or target_dir(state_dir(settings), "outbox", store.target)


def _degradation(parts: Parts) -> Sequence[Policy]:
    degradation = parts.settings.degradation
    if degradation.policy != "degrade":
        return ()
    durable = degradation.outbox == "durable"
    outbox = Outbox(
        degradation.outbox_capacity,
        directory=outbox_directory(parts.settings, parts.store) if durable else None,
    )
    if parts.metrics:
        outbox.on_event = parts.metrics.watch_outbox(outbox)
    policy = DegradationPolicy(
        outbox,
        backend=parts.store.backend,
        replay_interval=degradation.replay_interval,
        on_degraded_read=parts.metrics.degraded_read if parts.metrics else None,
    )
    return (policy,)


def _cache(parts: Parts) -> Sequence[Policy]:
    cache = parts.settings.cache
    if cache.backend == "none":
        return ()
    store = (
        LRUEmbeddingCache(cache.max_entries)
        if cache.backend == "memory"
        else registry.embedding_caches.create(parts.settings, cache.backend)
    )
    embedder = parts.embedder
    policy = CachePolicy(store, model=embedder.model, dimension=embedder.dimension)
    if parts.metrics:
        parts.metrics.watch_cache(policy.stats, embedder.backend)
    return (policy,)


def _breakers(parts: Parts) -> Sequence[Policy]:
    settings = parts.settings
    if not settings.breaker.enabled:
        return ()
    config = BreakerConfig(**settings.breaker.model_dump(exclude={"enabled"}))
    policies: list[Policy] = []
    for port, backend in (("store", parts.store.backend), ("embedder", parts.embedder.backend)):
        listener = parts.metrics.breaker_listener(backend) if parts.metrics else None
        breaker = CircuitBreaker(port, config, on_change=listener)
        if listener is not None:  # exported from the start (closed), not from its first change
            listener(port, breaker.state)
        policies.append(BreakerPolicy(port, breaker, backend=backend))  # type: ignore[arg-type]
    return policies


def _metrics(parts: Parts) -> Sequence[Policy]:
    if parts.metrics is None:
        return ()
    backends = {"store": parts.store.backend, "embedder": parts.embedder.backend}
    return (MetricsPolicy(parts.metrics, backends),)  # type: ignore[arg-type]


def _retry(parts: Parts) -> Sequence[Policy]:
    retry = parts.settings.retry
    if not retry.enabled:
        return ()
    # One owner of retries per adapter: attempts do not multiply.
    adapters: tuple[tuple[Port, object], ...] = (
        ("store", parts.store),
        ("embedder", parts.embedder),
    )
    ports = frozenset(port for port, part in adapters if not getattr(part, "retries_itself", False))
    if not ports:
        return ()
    config = RetryConfig(**retry.model_dump(exclude={"enabled"}))
    listener = parts.metrics.retry_listener(parts.store.backend) if parts.metrics else None
    return (RetryPolicy(config, on_retry=listener, ports=ports),)


POLICY_ORDER: tuple[PolicyFactory, ...] = (
    _rate_limit,
    _audit,
    _encryption,
    _degradation,
    _cache,
    _breakers,
    _metrics,
    _retry,
)
"""The pipeline, outermost first: each entry builds its policies from settings, or none."""


def build_policies(parts: Parts) -> list[Policy]:
    """Every policy the settings turn on, in :data:`POLICY_ORDER`."""
    return [policy for factory in POLICY_ORDER for policy in factory(parts)]


def _create_metrics(settings: MemcoreSettings) -> Metrics | None:
    return Metrics() if settings.metrics.enabled else None


def _create_store(settings: MemcoreSettings, metrics: Metrics | None) -> MemoryStore:
    store = registry.stores.create(settings, settings.store)
    if metrics is not None:
        metrics.watch_pool(store, store.backend)
    return store


def _create_service(parts: Parts, policies: Sequence[Policy]) -> MemoryService:
    settings = parts.settings
    return MemoryService(
        parts.store,
        parts.embedder,
        policies=policies,
        limits=settings.limits,
        telemetry=Telemetry(
            metrics=parts.metrics,
            user_ids=settings.logging.user_id,
            log_content=settings.logging.log_content,
        ),
        check_on_start=settings.health.check_on_start,
        deadline=settings.retry.deadline if settings.retry.enabled else None,
        degrade_searches=settings.degradation.policy == "degrade",
        what_worked=settings.what_worked,
        duplicates=settings.duplicates,
        retention=settings.retention,
    )


class Container(containers.DeclarativeContainer):
    """Settings -> store and embedder (by name, through the registry) and the policies
    (:data:`POLICY_ORDER`) -> MemoryService. ``container.policies()`` is the list the
    service runs, the very objects, outermost first.
    """

    settings = providers.Singleton(load_settings)
    metrics = providers.Singleton(_create_metrics, settings)
    store = providers.Singleton(_create_store, settings, metrics)
    embedder = providers.Singleton(
        lambda settings: registry.embedders.create(settings, settings.embedder), settings
    )
    parts = providers.Singleton(
        Parts, settings=settings, metrics=metrics, store=store, embedder=embedder
    )
    policies = providers.Singleton(build_policies, parts)
    service = providers.Singleton(_create_service, parts, policies)


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
