from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.service import MemoryService


@pytest.fixture
async def memory() -> AsyncIterator[MemoryService]:
    """A started service over the in-memory store and a small hashing embedder."""
    async with MemoryService(InMemoryStore(), HashingEmbedder(dimension=32)) as service:
        yield service
