"""The memcore store contract, on a real Redis Stack, in both storage layouts."""

from __future__ import annotations

import pytest

from memcore.testing import StoreContract
from memcore_redis import RedisStore

from .conftest import StoreFactory


class TestHashStore(StoreContract):
    @pytest.fixture
    async def store(self, make_store: StoreFactory) -> RedisStore:
        return make_store(storage_type="hash")


class TestJsonStore(StoreContract):
    @pytest.fixture
    async def store(self, make_store: StoreFactory) -> RedisStore:
        return make_store(storage_type="json")
