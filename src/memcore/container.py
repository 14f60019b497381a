"""The composition root: the one place backends are chosen and wired.

The only module that imports ``dependency_injector``. Tests replace any part with
``container.store.override(providers.Object(my_store))``; everything else takes plain
constructor arguments and can be built by hand.

The backend the registry builds is wrapped as ``Instrumented(Retrying(backend))``: the
retry layer sees each attempt, the metrics layer the whole call as the caller felt it
(retries are counted separately). Both layers satisfy the ports, and settings turn them
off (``MEMCORE_RETRY__ENABLED``, ``MEMCORE_METRICS__ENABLED``).
"""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from memcore import registry
from memcore.observability import InstrumentedEmbedder, InstrumentedStore, Metrics, Telemetry
from memcore.ports import Embedder, MemoryStore
from memcore.resilience import RetryConfig, RetryingEmbedder, RetryingStore
from memcore.service import MemoryService
from memcore.settings import MemcoreSettings, RetrySettings, load_settings


def _retry_config(settings: RetrySettings) -> RetryConfig:
    return RetryConfig(**settings.model_dump(exclude={"enabled"}))


def _create_metrics(settings: MemcoreSettings) -> Metrics | None:
    return Metrics() if settings.metrics.enabled else None


def _create_store(settings: MemcoreSettings, metrics: Metrics | None) -> MemoryStore:
    store = registry.stores.create(settings, settings.store)
    if settings.retry.enabled:
        listener = metrics.retry_listener(store.backend) if metrics else None
        store = RetryingStore(store, _retry_config(settings.retry), on_retry=listener)
    return InstrumentedStore(store, metrics) if metrics else store


def _create_embedder(settings: MemcoreSettings, metrics: Metrics | None) -> Embedder:
    embedder = registry.embedders.create(settings, settings.embedder)
    if settings.retry.enabled:
        listener = metrics.retry_listener(embedder.backend) if metrics else None
        embedder = RetryingEmbedder(embedder, _retry_config(settings.retry), on_retry=listener)
    return InstrumentedEmbedder(embedder, metrics) if metrics else embedder


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
    service = providers.Singleton(
        MemoryService,
        store=store,
        embedder=embedder,
        limits=settings.provided.limits,
        telemetry=telemetry,
        check_on_start=settings.provided.health.check_on_start,
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
