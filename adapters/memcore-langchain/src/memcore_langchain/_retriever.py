"""A LangChain retriever over one user's interventions or reflections."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import InstanceOf

from memcore import (
    MemoryService,
    RecordKind,
    Scope,
    SearchFilter,
)
from memcore_langchain import _portal
from memcore_langchain._documents import SEARCHES, memory_document


class MemcoreRetriever(BaseRetriever):
    """The ``k`` memories of one user most similar to the query, best first.

    ``MemcoreRetriever(service=memory, user_id="user-42")`` searches that user's
    interventions; ``kind="reflection"`` their reflections. ``filters`` narrows every
    search by outcome, task, time or metadata, as :meth:`memcore.MemoryService.search_interventions`
    takes them (e.g. ``{"outcome": "task_completed"}``); ``invoke(query, k=..., filters=...)``
    overrides ``k`` and ``filters`` for one call. ``agent_id`` and/or ``session_id`` keep
    every search to that scope of the user (no filter can widen it). A bad id raises
    :class:`~memcore.ValidationError` when it is used.

    Each document's ``page_content`` is the intervention text (or the reflection); its
    metadata holds ``kind``, ``created_at`` (ISO 8601), ``score`` (cosine similarity in
    ``[-1, 1]``), ``task``, ``context`` and ``outcome`` (interventions) or ``source_ids``
    (reflections), and the record's own metadata under ``"metadata"``. Its ``id`` is the
    record id.
    """

    service: InstanceOf[MemoryService]
    user_id: str
    kind: RecordKind = RecordKind.INTERVENTION
    k: int = 4
    filters: InstanceOf[SearchFilter] | dict[str, Any] | None = None
    agent_id: str | None = None
    session_id: str | None = None

    async def _search(
        self, query: str, k: int | None, filters: SearchFilter | dict[str, Any] | None
    ) -> list[Document]:
        hits = await SEARCHES[self.kind](
            self.service,
            self.user_id,
            query,
            self.k if k is None else k,
            Scope(self.agent_id, self.session_id).narrow(
                self.filters if filters is None else filters
            ),
        )
        return [memory_document(hit.record, hit.score) for hit in hits]

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,  # noqa: ARG002 - LangChain passes it
        k: int | None = None,
        filters: SearchFilter | dict[str, Any] | None = None,
    ) -> list[Document]:
        return _portal.run(self._search(query, k, filters))

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,  # noqa: ARG002
        k: int | None = None,
        filters: SearchFilter | dict[str, Any] | None = None,
    ) -> list[Document]:
        return await _portal.call(self.service, self._search(query, k, filters))
