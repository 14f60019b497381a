"""The composition root: the one place backends are chosen and wired.

The only module that imports ``dependency_injector``. Tests replace any part with
``container.store.override(providers.Object(my_store))``; everything else takes plain
constructor arguments and can be built by hand.
"""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from memcore import registry
from memcore.ports import Embedder, MemoryStore
from memcore.service import MemoryService
from memcore.settings import MemcoreSettings, load_settings


def _create_store(settings: MemcoreSettings) -> MemoryStore:
    return registry.stores.create(settings, settings.store)


def _create_embedder(settings: MemcoreSettings) -> Embedder:
    return registry.embedders.create(settings, settings.embedder)


class Container(containers.DeclarativeContainer):
    """Settings -> store and embedder (by name, through the registry) -> MemoryService."""

    settings = providers.Singleton(load_settings)
    store = providers.Singleton(_create_store, settings)
    embedder = providers.Singleton(_create_embedder, settings)
    service = providers.Singleton(
        MemoryService,
        store=store,
        embedder=embedder,
        limits=settings.provided.limits,
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
