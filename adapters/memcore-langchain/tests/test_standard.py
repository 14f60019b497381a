"""The langchain-tests standard suites, unmodified, on the in-memory store and on Redis.

Each store is seeded with a memory of another user and one of the other kind, both
close to the suites' queries: a suite that finds them fails, so the suites also prove
that a store or retriever sees its own user and kind only.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import (
    RetrieversIntegrationTests,
    VectorStoreIntegrationTests,
)

import memcore
from conftest import NEIGHBOUR, USER
from memcore_langchain import MemcoreRetriever, MemcoreVectorStore

_NEAR_EVERY_QUERY = "foo bar baz new foo"


async def _seed_others(service: memcore.MemoryService, kind: memcore.RecordKind) -> None:
    other_kind = next(other for other in memcore.RecordKind if other is not kind)
    for user, record_kind in [(NEIGHBOUR, kind), (NEIGHBOUR, other_kind), (USER, other_kind)]:
        store = MemcoreVectorStore(service, user, kind=record_kind)
        await store.aadd_texts([_NEAR_EVERY_QUERY], [{"task": "notes"}])


class TestInterventionVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture
    async def vectorstore(self, service: memcore.MemoryService) -> VectorStore:
        await _seed_others(service, memcore.RecordKind.INTERVENTION)
        return MemcoreVectorStore(service, USER, task="notes")


class TestReflectionVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture
    async def vectorstore(self, service: memcore.MemoryService) -> VectorStore:
        await _seed_others(service, memcore.RecordKind.REFLECTION)
        return MemcoreVectorStore(service, USER, kind="reflection")


class TestRetriever(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    async def _seeded(self, service: memcore.MemoryService) -> None:
        await _seed_others(service, memcore.RecordKind.INTERVENTION)
        await MemcoreVectorStore(service, USER, task="calm_down").aadd_documents(
            [
                Document(page_content=text, metadata={"outcome": outcome})
                for text, outcome in [
                    ("Try two minutes of box breathing.", "task_completed"),
                    ("Write down the three worst outcomes.", "user_resisted"),
                    ("Take a short walk before the meeting.", "partial_progress"),
                    ("Rehearse the first sentence aloud.", "task_completed"),
                ]
            ],
        )
        self.service = service

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return MemcoreRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"service": self.service, "user_id": USER}

    @property
    def retriever_query_example(self) -> str:
        return "nervous before an important meeting"


async def test_the_seeded_memories_are_near_the_suites_queries(
    memory: memcore.MemoryService,
) -> None:
    # Were the seeds far from "foo", "bar" and "new foo", a leak would go unnoticed.
    await _seed_others(memory, memcore.RecordKind.INTERVENTION)
    for kind in memcore.RecordKind:
        store = MemcoreVectorStore(memory, NEIGHBOUR, kind=kind)
        for query in ("foo", "bar", "new foo"):
            [(document, score)] = await store.asimilarity_search_with_score(query, k=1)
            assert document.page_content == _NEAR_EVERY_QUERY
            assert score > 0.2
