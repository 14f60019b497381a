"""A LangChain ``VectorStore`` over one user's interventions or reflections."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from typing_extensions import Self

from memcore import (
    MemoryRecord,
    MemoryService,
    RecordKind,
    Scope,
    ValidationError,
    Vectors,
    validate_user_id,
)
from memcore_langchain import _portal
from memcore_langchain._documents import (
    SEARCHES,
    Filter,
    document_ids,
    intervention_item,
    parse_kind,
    stored_document,
)


class MemcoreVectorStore(VectorStore):
    """The memories of one user, of one kind, as a LangChain vector store.

    ``MemcoreVectorStore(service, "user-42", task="notes")`` stores documents as that
    user's interventions; ``kind="reflection"`` as their reflections. Every call is
    scoped to that user and kind: searches, ``get_by_ids`` and ``delete`` never see the
    other kind or another user. With ``agent_id`` and/or ``session_id``, only that scope
    of the user: documents are stored in it, and searches, ``get_by_ids`` and ``delete``
    see nothing outside it. memcore embeds with the service's embedder, so
    :attr:`embeddings` is ``None``.

    A document's ``page_content`` is the intervention text (or the reflection), its
    metadata is stored as given and must be flat: keys ``[A-Za-z0-9_.-]{1,64}``, values
    ``str``, ``int``, ``float`` or ``bool`` (no ``None``, lists or nesting); anything else
    raises :class:`~memcore.ValidationError` and stores nothing of that batch. For an
    intervention, the metadata keys ``task``, ``context`` and ``outcome`` also set those
    fields; ``task`` falls back to the ``task`` given here, and one of the two is required.

    Scores of :meth:`similarity_search_with_score` are memcore's cosine similarities in
    ``[-1, 1]``; :meth:`similarity_search_with_relevance_scores` maps them to
    ``(1 + score) / 2`` in ``[0, 1]``. ``filter=`` takes memcore's search filters
    (outcome, task, time, metadata). Maximal marginal relevance is not supported.
    """

    def __init__(
        self,
        service: MemoryService,
        user_id: str,
        *,
        kind: RecordKind | str = RecordKind.INTERVENTION,
        task: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> None:
        self.service = service
        self.user_id = validate_user_id(user_id)
        self.scope = Scope(agent_id, session_id)
        self.kind = parse_kind(kind)
        if task is not None and self.kind is not RecordKind.INTERVENTION:
            raise ValidationError("task", "only interventions have a task")
        self.task = task

    # -- the calls, run by the sync and async methods below ------------------------------

    async def _add(self, documents: list[Document], kwargs: dict[str, Any]) -> list[str]:
        ids = document_ids(documents, kwargs.pop("ids", None))
        batch_size = kwargs.pop("batch_size", None) or self.service.limits.max_batch
        _no_other_arguments(kwargs)
        written: list[str] = []
        if self.kind is RecordKind.REFLECTION:
            for document, id_ in zip(documents, ids, strict=True):
                reflection = await self.service.record_reflection(
                    self.user_id,
                    document.page_content,
                    metadata=document.metadata,
                    id=id_,
                    agent_id=self.scope.agent_id,
                    session_id=self.scope.session_id,
                )
                written.append(reflection.id)
            return written
        for start in range(0, len(documents), batch_size):
            items = [
                {**intervention_item(document, id_, self.task), **self.scope.fields}
                for document, id_ in zip(
                    documents[start : start + batch_size],
                    ids[start : start + batch_size],
                    strict=True,
                )
            ]
            receipt = await self.service.record_interventions(self.user_id, items)
            written.extend(receipt.ids)
        return written

    async def _mine(self, ids: Sequence[str]) -> list[MemoryRecord]:
        """The records among ``ids`` of this store's user, kind and scope."""
        records = await self.service.get_many(self.user_id, list(ids))
        return [r for r in records if r.kind is self.kind and self.scope.holds(r)]

    async def _get(self, ids: Sequence[str]) -> list[Document]:
        return [stored_document(record) for record in await self._mine(ids)]

    async def _delete(self, ids: list[str] | None, kwargs: dict[str, Any]) -> bool:
        _no_other_arguments(kwargs)
        if ids is None:
            raise ValidationError("ids", "give the ids to delete (deleting all is not supported)")
        mine = [record.id for record in await self._mine(ids)]
        if mine:
            await self.service.delete(self.user_id, mine)
        return True

    async def _search(
        self, query: str | Vectors, k: int, filters: Filter, kwargs: dict[str, Any]
    ) -> list[tuple[Document, float]]:
        _no_other_arguments(kwargs)
        hits = await SEARCHES[self.kind](
            self.service, self.user_id, query, k, self.scope.narrow(filters)
        )
        return [(stored_document(hit.record), hit.score) for hit in hits]

    async def _search_documents(
        self, query: str | Vectors, k: int, filters: Filter, kwargs: dict[str, Any]
    ) -> list[Document]:
        return [document for document, _ in await self._search(query, k, filters, kwargs)]

    # -- writing ---------------------------------------------------------------------------

    async def aadd_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Store ``documents`` (upsert by id) and return their ids.

        ``ids=`` wins over each document's ``id``; without either, memcore makes one.
        Interventions are written ``batch_size`` at a time (default: the service's
        ``max_batch``), each batch all or nothing; reflections one call each.
        """
        return await _portal.call(self.service, self._add(documents, kwargs))

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        return _portal.run(self._add(documents, kwargs))

    # -- reading and deleting --------------------------------------------------------------

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents of this user and kind among ``ids``, in that order; missing ids
        are left out. An id memcore cannot hold (see ``memcore.validation``) raises.
        """
        return await _portal.call(self.service, self._get(ids))

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return _portal.run(self._get(ids))

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete the records of this user and kind among ``ids``; missing ids are fine.

        ``ids=None`` (LangChain's "delete everything") is refused: erase a user with
        :meth:`memcore.MemoryService.forget_user`.
        """
        return await _portal.call(self.service, self._delete(ids, kwargs))

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        return _portal.run(self._delete(ids, kwargs))

    # -- searching -------------------------------------------------------------------------

    async def asimilarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        *,
        filter: Filter = None,  # noqa: A002 - LangChain's name for it
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents most similar to ``query`` with their cosine similarity."""
        return await _portal.call(self.service, self._search(query, k, filter, kwargs))

    def similarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        *,
        filter: Filter = None,  # noqa: A002
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        return _portal.run(self._search(query, k, filter, kwargs))

    async def asimilarity_search(
        self,
        query: str,
        k: int = 4,
        *,
        filter: Filter = None,  # noqa: A002
        **kwargs: Any,
    ) -> list[Document]:
        """The ``k`` documents most similar to ``query``, best first."""
        return await _portal.call(self.service, self._search_documents(query, k, filter, kwargs))

    def similarity_search(
        self,
        query: str,
        k: int = 4,
        *,
        filter: Filter = None,  # noqa: A002
        **kwargs: Any,
    ) -> list[Document]:
        return _portal.run(self._search_documents(query, k, filter, kwargs))

    async def asimilarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        *,
        filter: Filter = None,  # noqa: A002
        **kwargs: Any,
    ) -> list[Document]:
        """The ``k`` documents nearest ``embedding`` (of the service embedder's dimension)."""
        search = self._search_documents(_vector(embedding), k, filter, kwargs)
        return await _portal.call(self.service, search)

    def similarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        *,
        filter: Filter = None,  # noqa: A002
        **kwargs: Any,
    ) -> list[Document]:
        return _portal.run(self._search_documents(_vector(embedding), k, filter, kwargs))

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return _relevance

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A store built with ``kwargs`` (``service``, ``user_id``, ``kind``, ``task``, scopes)
        holding ``texts``. ``embedding`` must be ``None``: the service embeds.
        """
        store = cls._bound(embedding, kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """See :meth:`from_texts`."""
        store = cls._bound(embedding, kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    def _bound(cls, embedding: Embeddings | None, kwargs: dict[str, Any]) -> Self:
        if embedding is not None:
            raise ValidationError("embedding", "must be None: the memcore service embeds")
        return cls(**kwargs)


def _relevance(score: float) -> float:
    # LangChain's relevance is 0 (unrelated) to 1 (same); a cosine similarity is -1 to 1.
    return (1.0 + score) / 2.0


def _vector(embedding: list[float]) -> Vectors:
    try:
        return np.asarray(embedding, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValidationError("embedding", "must be a list of numbers") from None


def _no_other_arguments(kwargs: Mapping[str, Any]) -> None:
    if kwargs:
        raise ValidationError(next(iter(kwargs)), "unknown argument")
