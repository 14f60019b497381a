"""Public contract suites: prove an adapter keeps every promise of its port.

A new store passes when this runs green::

    from memcore.testing import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        async def store(self):
            store = MyStore(...)   # new and empty
            yield store
            await store.aclose()

Embedders subclass :class:`EmbedderContract` and provide ``embedder`` the same way;
:class:`AddedFieldContract` proves a store follows the field table (see its module).
:class:`StoreContract` includes :class:`ServiceCallsContract`: the service's later-life
calls on the store; :class:`CountingEmbedder` keeps the texts it embedded.
Requires the ``agent-memcore[testing]`` extra (pytest, pytest-asyncio).
"""

from memcore.testing._suite import SCHEMA, ContractSuite, unit_vectors
from memcore.testing.embedder_contract import EmbedderContract
from memcore.testing.service_calls import CountingEmbedder, ServiceCallsContract
from memcore.testing.store_contract import StoreContract
from memcore.testing.store_fields import AddedFieldContract, MoodIntervention
from memcore.testing.store_isolation import HOSTILE_USER_IDS

__all__ = [
    "HOSTILE_USER_IDS",
    "SCHEMA",
    "AddedFieldContract",
    "ContractSuite",
    "CountingEmbedder",
    "EmbedderContract",
    "MoodIntervention",
    "ServiceCallsContract",
    "StoreContract",
    "unit_vectors",
]
