"""Fixtures for the examples: each example module loaded from its file, and services.

The ``memory`` fixture is built from ``MEMCORE_*`` settings, so the examples run on the
in-memory store and hashing embedder by default and on Redis / the local model when
the environment selects them. Tests use fresh user ids, so a shared server is fine.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import memcore
from memcore import HealthCheck, HealthStatus, MemoryService
from memcore.adapters.memory import InMemoryStore
from memcore.errors import StoreUnavailableError
from memcore.pipeline import Call, Result, StoreCalls, store_terminal

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as module ``examples_<name>`` (once)."""
    module_name = f"examples_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


class DownStore(StoreCalls):
    """An in-memory store that raises ``StoreUnavailableError`` on every call while ``down``."""

    backend = "memory"

    def __init__(self, *, down: bool = True) -> None:
        self.inner = InMemoryStore()
        self._terminal = store_terminal(self.inner)
        self.down = down

    @property
    def target(self) -> str:
        return f"down:{self.inner.target}"

    async def run(self, call: Call) -> Result[Any]:
        if self.down:
            raise StoreUnavailableError(
                "connection refused", operation=call.operation, backend="down"
            )
        return await self._terminal(call)

    async def health(self) -> HealthCheck:
        if self.down:
            return HealthCheck("store", HealthStatus.UNHEALTHY, 0.0, "connection refused")
        return await self.inner.health()

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def memory() -> AsyncIterator[MemoryService]:
    service = await memcore.connect()
    yield service
    await service.aclose()


@pytest.fixture
def user_id() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"
