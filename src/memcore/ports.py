"""The two ports every backend implements. Their docstrings are the contract.

Each sentence of a promise below has a test in :mod:`memcore.testing`; an adapter that
passes :class:`~memcore.testing.StoreContract` or
:class:`~memcore.testing.EmbedderContract` keeps them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NewType, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from memcore.domain import (
    EmbeddingSchema,
    HealthCheck,
    MemoryRecord,
    Page,
    RecordUpdate,
    SearchFilter,
    SearchHit,
)

Vectors = NDArray[np.float32]
"""A C-contiguous ``(n, dimension)`` float32 matrix, one row per text or record."""

UnitVectors = NewType("UnitVectors", Vectors)
""":data:`Vectors` validated once, by the service (:func:`memcore.validation.unit_vectors`):
C-contiguous float32, finite, every row of unit length. Stores receive only these and
neither check nor normalise them again; a cosine similarity is then one dot product.
"""


@runtime_checkable
class MemoryStore(Protocol):
    """Where memories and their embeddings live, partitioned by user.

    Tenancy is in the signature: every data method takes ``user_id`` and reads, counts,
    changes or deletes only that user's records, whatever the ids look like (ids that
    prefix each other, or are full of query metacharacters, never meet). Stores receive
    validated input from :class:`~memcore.MemoryService` (vectors as
    :data:`UnitVectors`); they need not re-validate it, but they must treat every value
    as data, never as query syntax. :mod:`memcore.adapterkit` holds what every store needs.

    A record whose ``expires_at`` has passed is gone: no read returns or counts it, as if
    it had been deleted (stores reclaim its space when they can).

    A write is visible to every read that starts after it returns (read-your-writes).
    Stores are safe to use from many concurrent tasks of one event loop.
    """

    #: Short backend name used in logs, metrics and errors (``"memory"``, ``"redis"``).
    backend: str

    @property
    def target(self) -> str:
        """Where the data lives, without credentials (``"redis://host:6379/0#memcore"``).

        It names this store's outbox and state files, so two targets never share them.
        """
        ...

    async def ensure_schema(self, schema: EmbeddingSchema) -> None:
        """Prepare the store for vectors of ``schema`` and check it matches what is there.

        Creates what is missing (index, metadata) and never drops or rebuilds existing
        data. Calling it again with the same schema is a no-op. If the store already holds
        a different dimension or model, raises
        :class:`~memcore.errors.SchemaMismatchError` naming both sides. Every other method
        may be called only after this one succeeded.
        """
        ...

    async def upsert(
        self, user_id: str, records: Sequence[MemoryRecord], vectors: UnitVectors
    ) -> None:
        """Store ``records`` (all of ``user_id``) with their embeddings, row ``i`` for record ``i``.

        Upsert by id is idempotent: writing the same record twice leaves one record, and a
        record with an existing id replaces the old one whole. The batch is all-or-nothing
        as far as the backend allows. Neither ``records`` nor ``vectors`` is mutated or
        kept by reference. A record whose ``user_id`` differs, or a row count that is not
        the record count, raises :class:`~memcore.errors.ValidationError` and nothing is
        stored.
        """
        ...

    async def update(
        self, user_id: str, update: RecordUpdate, vector: UnitVectors | None
    ) -> MemoryRecord | None:
        """Apply ``update`` to ``user_id``'s record ``update.id`` atomically; return the result.

        The record becomes :func:`~memcore.domain.apply_update` of it: the update's values
        replace the record's, ``updated_at`` becomes ``update.at``, and a new outcome is
        appended to ``outcome_history`` (not twice: applying one update again, as a retry
        does, changes nothing more). ``vector`` (one unit row), if given, replaces the
        stored embedding; otherwise the embedding is kept. Concurrent updates of one
        record are applied one after the other: none is lost. Returns
        ``None`` and writes nothing if ``user_id`` has no record with that id, it is not
        of ``update.kind``, or it is outside ``update.scope`` (another agent's or
        session's, or unscoped), checked in the same atomic step. With ``update.guard``,
        a record whose ``updated_at`` is not ``update.if_updated_at`` raises
        :class:`~memcore.errors.ConflictError` and is left as it was. The id, user and
        ``created_at`` never change.

        With ``update.create``, a missing record is not ``None``: ``update.create`` is
        stored with ``vector`` (one write, as :meth:`upsert`) and returned, and an existing
        one gets the update (keeping its embedding). Deciding which is atomic: of many
        concurrent such calls, one creates and each other one updates.
        """
        ...

    async def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        """Return the records of ``user_id`` with these ids, in the order of ``ids``.

        Missing ids are not an error: they are left out. Another user's id is missing.
        """
        ...

    async def get_with_vectors(
        self, user_id: str, ids: Sequence[str]
    ) -> tuple[list[MemoryRecord], Vectors]:
        """Like :meth:`get`, plus each returned record's stored vector (row ``i`` for record ``i``).

        Vectors come back as written, up to the stored precision. Used by export and
        re-embedding tools, not on the hot path.
        """
        ...

    async def user_ids(self) -> list[str]:
        """Every user id that has at least one record, sorted. For operators' tools
        (summaries, export, clear all); it returns ids only, never records.

        A store that may miss users (an index still being built) returns a
        :class:`~memcore.UserIds` with status ``partial``.
        """
        ...

    async def delete(self, user_id: str, ids: Sequence[str]) -> int:
        """Delete these records of ``user_id``; return how many existed and were removed.

        Missing ids are not an error. No other user's record is touched.
        """
        ...

    async def search(
        self,
        user_id: str,
        vector: UnitVectors,
        k: int,
        filters: SearchFilter,
    ) -> list[SearchHit[MemoryRecord]]:
        """Return at most ``k`` of ``user_id``'s records nearest to ``vector``, best first.

        ``vector`` is one ``(dimension,)`` unit row, only to be read (it may be the
        caller's own array: :func:`memcore.validation.unit_vector`). Filters are applied
        before ranking, so ``k`` hits come back whenever at least ``k`` records match.
        Scores are cosine similarities (see :class:`~memcore.SearchHit`), non-increasing
        down the list. A store whose index is still being built returns a
        :class:`~memcore.SearchResults` with status ``partial``.
        """
        ...

    async def list(
        self,
        user_id: str,
        filters: SearchFilter,
        limit: int,
        cursor: str | None = None,
    ) -> Page[MemoryRecord]:
        """Return up to ``limit`` of ``user_id``'s records matching ``filters``, oldest first.

        Order is by ``(created_at, id)``. Following ``next_cursor`` until it is ``None``
        visits every matching record exactly once when nothing is written meanwhile.
        Cursors are opaque strings, valid only for the same user and filters.
        """
        ...

    async def count(self, user_id: str, filters: SearchFilter) -> int:
        """Return how many of ``user_id``'s records match ``filters``."""
        ...

    async def forget_user(self, user_id: str) -> int:
        """Delete every record of ``user_id`` and return how many there were.

        Other users, even those whose ids start with ``user_id``, keep everything.
        """
        ...

    async def health(self) -> HealthCheck:
        """Check the backend end to end and report; never raises for a sick backend."""
        ...

    async def aclose(self) -> None:
        """Release connections and flush what must persist. Calling it twice is harmless."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors. Implementations are safe for concurrent use.

    An adapter (embedder or store) that retries transient failures by itself sets the
    class attribute ``retries_itself = True``; the service's retry layer then leaves its
    calls alone, so attempts never multiply (one owner of retries per adapter).
    """

    #: Short backend name used in logs, metrics and errors (``"local"``, ``"openai"``).
    backend: str

    @property
    def dimension(self) -> int:
        """Length of every vector this embedder returns; stable for its lifetime."""
        ...

    @property
    def model(self) -> str:
        """Name of the model; two embedders with the same name and dimension are
        interchangeable for a store.
        """
        ...

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Return a C-contiguous float32 ``(len(texts), dimension)`` matrix; row i for texts[i].

        Values are finite. Embedding a batch gives the same rows as embedding each text
        alone (up to float rounding). The empty string and any unicode text are valid
        inputs; an empty ``texts`` returns a ``(0, dimension)`` matrix.
        Failures raise :class:`~memcore.errors.EmbeddingError`, retryable ones
        :class:`~memcore.errors.EmbeddingUnavailableError`.
        """
        ...

    async def health(self) -> HealthCheck:
        """Check the model is loaded or the service reachable; never raises for a sick one."""
        ...

    async def aclose(self) -> None:
        """Release the model or connections. Calling it twice is harmless."""
        ...
