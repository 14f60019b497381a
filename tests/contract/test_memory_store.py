"""The in-memory store keeps every promise, with and without a snapshot file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.ports import Embedder, MemoryStore
from memcore.testing import AddedFieldContract, EmbedderContract, StoreContract


class TestInMemoryStore(StoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        store = InMemoryStore()
        yield store
        await store.aclose()


class TestInMemoryStoreWithSnapshot(StoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[MemoryStore]:
        store = InMemoryStore(snapshot_path=tmp_path / "memory.npz")
        yield store
        await store.aclose()


class TestHashingEmbedder(EmbedderContract):
    @pytest.fixture
    async def embedder(self) -> AsyncIterator[Embedder]:
        embedder = HashingEmbedder(dimension=64)
        yield embedder
        await embedder.aclose()


class TestInMemoryStoreFollowsTheFieldTable(AddedFieldContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[MemoryStore]:
        store = InMemoryStore(snapshot_path=tmp_path / "memory.npz")
        yield store
        await store.aclose()
