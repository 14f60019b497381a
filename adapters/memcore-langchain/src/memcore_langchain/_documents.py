"""Between memcore records and LangChain documents, and the search call of each kind.

Two views of a record:

- the *stored* view (the vector store's): ``page_content`` is the text, ``metadata``
  the record's flat metadata exactly as written, ``id`` the record id, so a document
  reads back as it was added;
- the *memory* view (the retriever's and the tools'): the record's fields as well
  (kind, task, context, outcome, created_at, source_ids), its ``score`` when it comes
  from a search, and its own metadata nested under ``"metadata"`` so that no user key
  can shadow a field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from langchain_core.documents import Document

from memcore import (
    Intervention,
    MemoryRecord,
    MemoryService,
    RecordKind,
    SearchFilter,
    SearchHit,
    ValidationError,
    Vectors,
)

Filter = SearchFilter | Mapping[str, Any] | None
"""Search filters: the ``filters`` argument of :class:`~memcore.MemoryService`'s searches."""

_Search = Callable[
    [MemoryService, str, str | Vectors, int, Filter], Awaitable[list[SearchHit[Any]]]
]

#: The service call that searches each kind.
SEARCHES: dict[RecordKind, _Search] = {
    RecordKind.INTERVENTION: MemoryService.search_interventions,
    RecordKind.REFLECTION: MemoryService.search_reflections,
}

#: Metadata keys of an intervention document that also set the intervention's fields.
INTERVENTION_FIELDS = ("task", "context", "outcome")


def parse_kind(kind: RecordKind | str) -> RecordKind:
    """``kind`` as a :class:`~memcore.RecordKind`; anything else raises ValidationError."""
    try:
        return RecordKind(kind)
    except ValueError:
        allowed = ", ".join(member.value for member in RecordKind)
        raise ValidationError("kind", f"{kind!r} is not one of: {allowed}") from None


def record_text(record: MemoryRecord) -> str:
    """What was said (an intervention) or learned (a reflection)."""
    return record.intervention_text if isinstance(record, Intervention) else record.text


def stored_document(record: MemoryRecord) -> Document:
    """The vector store's view of ``record``."""
    return Document(id=record.id, page_content=record_text(record), metadata=dict(record.metadata))


def memory_document(record: MemoryRecord, score: float | None = None) -> Document:
    """The retriever's and the tools' view of ``record`` (with ``score`` from a search)."""
    fields: dict[str, Any] = {"kind": record.kind.value}
    if isinstance(record, Intervention):
        fields.update(task=record.task, context=record.context, outcome=record.outcome.value)
    else:
        fields["source_ids"] = list(record.source_ids)
    fields["created_at"] = record.created_at.isoformat()
    if score is not None:
        fields["score"] = score
    fields["metadata"] = dict(record.metadata)
    return Document(id=record.id, page_content=record_text(record), metadata=fields)


def document_ids(documents: Sequence[Document], ids: Sequence[str] | None) -> list[str | None]:
    """Each document's id: from ``ids`` if given, else its own ``id`` (``None``: new)."""
    if ids is None:
        return [document.id for document in documents]
    if len(ids) != len(documents):
        raise ValidationError("ids", f"got {len(ids)} ids for {len(documents)} documents")
    return list(ids)


def intervention_item(
    document: Document, record_id: str | None, task: str | None
) -> dict[str, Any]:
    """The ``record_interventions`` item for ``document``.

    The metadata is stored as given; its ``task``, ``context`` and ``outcome`` keys, when
    present, also set those fields (``task`` defaults to the store's bound task).
    """
    item: dict[str, Any] = {"intervention_text": document.page_content}
    if task is not None:
        item["task"] = task
    item.update(
        (key, document.metadata[key]) for key in INTERVENTION_FIELDS if key in document.metadata
    )
    item["metadata"] = document.metadata
    if record_id is not None:
        item["id"] = record_id
    return item
