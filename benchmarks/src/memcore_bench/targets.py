"""What the benchmark measures: memcore through its service as ``connect()`` builds it,
memcore's bare store, and the floors.

Every target answers the same five operations on the same workload: ingest a batch of
one user's interventions, write one intervention, a filtered KNN (this user, kind
intervention, outcome ``task_completed``, top ``k``), a health check, and close.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from dependency_injector import providers
from numpy.typing import NDArray

from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.container import Container, build_service
from memcore.domain import EmbeddingSchema, Intervention, RecordKind, SearchFilter
from memcore.ports import MemoryStore, UnitVectors
from memcore.service import MemoryService
from memcore.validation import unit_vectors
from memcore_bench.workload import SEARCH_OUTCOME, Query, Workload

MEMORY = "in-memory"
REDIS = "redis"


class Target(Protocol):
    """One implementation under test. ``role`` is ``memcore``, ``floor`` or ``redisvl``."""

    name: str
    family: str
    role: str

    async def setup(self, workload: Workload) -> None:
        """Create the index (or nothing) for ``workload``'s dimension."""
        ...

    async def ingest(self, user: str, records: Sequence[Intervention], vectors: Any) -> None:
        """Write a batch of one user's interventions (``vectors`` row ``i`` for record ``i``)."""
        ...

    async def load_reflections(self, workload: Workload) -> None:
        """Write the workload's reflections (not timed: they make the index realistic)."""
        ...

    async def write_one(self, record: Intervention, vector: NDArray[np.float32]) -> None:
        """Write one intervention."""
        ...

    async def knn(self, query: Query, k: int) -> list[str]:
        """Ids of the filtered top ``k`` for ``query``, best first."""
        ...

    async def health(self) -> bool:
        """Run a health check; ``False`` if this target has none."""
        ...

    async def used_bytes(self) -> int | None:
        """Server memory in use, or ``None`` where it is measured in process (tracemalloc)."""
        ...

    async def aclose(self) -> None:
        """Release everything."""
        ...


def intervention_item(record: Intervention) -> dict[str, Any]:
    """The keyword arguments of ``record_intervention`` for ``record``."""
    return {
        "id": record.id,
        "intervention_text": record.intervention_text,
        "task": record.task,
        "context": record.context,
        "outcome": record.outcome,
        "metadata": record.metadata,
        "created_at": record.created_at,
    }


class MemcoreTarget:
    """memcore as ``connect()`` builds it: the container's service, with the policies the
    settings turn on (by default degradation with its durable outbox, breakers, metrics,
    retry), around ``store`` (``connect()`` makes it from settings; here it is handed in),
    the embedder a :class:`HashingEmbedder` of the workload's dimension (vectors come
    precomputed: it embeds nothing).

    Its state (the durable outbox, and the data epoch of a store made with the same
    ``state``) goes to a temporary directory, ``state`` or a fresh one, removed at
    :meth:`aclose`: a run never writes into the user's state directory or the checkout.
    """

    role = "memcore"

    def __init__(
        self,
        name: str,
        family: str,
        store: MemoryStore,
        state: tempfile.TemporaryDirectory[str] | None = None,
    ) -> None:
        self.name = name
        self.family = family
        self.store = store
        self.service: MemoryService | None = None
        self._state = state or state_directory()
        self.state_dir = Path(self._state.name)
        self._filters = {"outcome": SEARCH_OUTCOME.value}

    def _memory(self) -> MemoryService:
        if self.service is None:
            msg = "setup() first"
            raise RuntimeError(msg)
        return self.service

    async def setup(self, workload: Workload) -> None:
        container = Container()
        container.store.override(providers.Object(self.store))
        embedder = HashingEmbedder(dimension=workload.dimension)
        container.embedder.override(providers.Object(embedder))
        self.service = await build_service(container, state_dir=self.state_dir)

    async def ingest(self, user: str, records: Sequence[Intervention], vectors: Any) -> None:
        items = [intervention_item(record) for record in records]
        await self._memory().record_interventions(user, items, embeddings=vectors)

    async def load_reflections(self, workload: Workload) -> None:
        await load_reflections(self.store, workload)

    async def write_one(self, record: Intervention, vector: NDArray[np.float32]) -> None:
        item = intervention_item(record)
        text = item.pop("intervention_text")
        await self._memory().record_intervention(record.user_id, text, **item, embedding=vector)

    async def knn(self, query: Query, k: int) -> list[str]:
        hits = await self._memory().search_interventions(
            query.user, query.vector, k=k, filters=self._filters
        )
        return [hit.record.id for hit in hits]

    async def health(self) -> bool:
        await self._memory().health()
        return True

    async def used_bytes(self) -> int | None:
        return None

    async def aclose(self) -> None:
        try:
            if self.service is not None:
                await self.service.aclose()
            else:
                await self.store.aclose()
        finally:
            self._state.cleanup()


def state_directory() -> tempfile.TemporaryDirectory[str]:
    """A fresh state directory for one service (its outbox, its store's data epoch)."""
    return tempfile.TemporaryDirectory(prefix="memcore-bench-")


class BareStoreTarget:
    """The ``MemoryStore`` port called directly: records and unit vectors handed to
    ``upsert``, ``search`` with a :class:`SearchFilter`; none of the service's layers.
    """

    role = "memcore"

    def __init__(self, name: str, family: str, store: MemoryStore) -> None:
        self.name = name
        self.family = family
        self.store = store
        self._filter = SearchFilter(outcome=SEARCH_OUTCOME).with_kind(RecordKind.INTERVENTION)

    async def setup(self, workload: Workload) -> None:
        model = HashingEmbedder(dimension=workload.dimension).model  # the service's schema
        await self.store.ensure_schema(EmbeddingSchema(dimension=workload.dimension, model=model))

    async def ingest(self, user: str, records: Sequence[Intervention], vectors: Any) -> None:
        await self.store.upsert(user, records, UnitVectors(vectors))

    async def load_reflections(self, workload: Workload) -> None:
        await load_reflections(self.store, workload)

    async def write_one(self, record: Intervention, vector: NDArray[np.float32]) -> None:
        await self.store.upsert(record.user_id, [record], UnitVectors(vector[None, :]))

    async def knn(self, query: Query, k: int) -> list[str]:
        hits = await self.store.search(query.user, UnitVectors(query.vector), k, self._filter)
        return [hit.record.id for hit in hits]

    async def health(self) -> bool:
        await self.store.health()
        return True

    async def used_bytes(self) -> int | None:
        return None

    async def aclose(self) -> None:
        await self.store.aclose()


async def load_reflections(store: MemoryStore, workload: Workload) -> None:
    """The workload's reflections, user by user, into ``store`` (not timed)."""
    rows = range(len(workload.reflections))
    for user in workload.users:
        mine = [row for row in rows if workload.reflections[row].user_id == user]
        if mine:
            records = [workload.reflections[row] for row in mine]
            vectors = unit_vectors(workload.reflection_vectors[mine], len(mine), workload.dimension)
            await store.upsert(user, records, vectors)


def in_memory_target() -> MemcoreTarget:
    """The service ``connect(store="memory")`` builds."""
    return MemcoreTarget("memcore in-memory service", MEMORY, InMemoryStore())


def in_memory_bare_target() -> BareStoreTarget:
    """The in-memory reference store, called directly."""
    return BareStoreTarget("memcore in-memory bare store", MEMORY, InMemoryStore())


@dataclass
class _Shard:
    """One user's rows in the numpy floor, grown by doubling."""

    vectors: NDArray[np.float32]
    matching: NDArray[np.bool_]
    ids: list[str] = field(default_factory=list)

    def append(self, ids: Sequence[str], vectors: NDArray[np.float32], matching: Any) -> None:
        size, extra = len(self.ids), len(ids)
        if size + extra > len(self.vectors):
            capacity = max(2 * len(self.vectors), size + extra)
            self.vectors = _grown(self.vectors, capacity)
            self.matching = _grown(self.matching, capacity)
        self.vectors[size : size + extra] = vectors
        self.matching[size : size + extra] = matching
        self.ids.extend(ids)


def _grown(array: NDArray[Any], capacity: int) -> NDArray[Any]:
    grown = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


class NumpyFloor:
    """The least an exact in-process search can do: per-user matrix, mask, matvec, top k.

    No validation, no record objects, no filter parsing: a boolean column says which rows
    match the benchmark's one filter.
    """

    name = "numpy floor"
    family = MEMORY
    role = "floor"

    def __init__(self) -> None:
        self.shards: dict[str, _Shard] = {}
        self.dimension = 0

    async def setup(self, workload: Workload) -> None:
        self.dimension = workload.dimension

    def _shard(self, user: str) -> _Shard:
        shard = self.shards.get(user)
        if shard is None:
            empty = np.empty((16, self.dimension), dtype=np.float32)
            shard = self.shards[user] = _Shard(empty, np.zeros(16, dtype=bool))
        return shard

    async def ingest(self, user: str, records: Sequence[Intervention], vectors: Any) -> None:
        matching = [record.outcome is SEARCH_OUTCOME for record in records]
        self._shard(user).append([record.id for record in records], vectors, matching)

    async def load_reflections(self, workload: Workload) -> None:
        for reflection, vector in zip(
            workload.reflections, workload.reflection_vectors, strict=True
        ):
            self._shard(reflection.user_id).append([reflection.id], vector[None, :], [False])

    async def write_one(self, record: Intervention, vector: NDArray[np.float32]) -> None:
        matching = [record.outcome is SEARCH_OUTCOME]
        self._shard(record.user_id).append([record.id], vector[None, :], matching)

    async def knn(self, query: Query, k: int) -> list[str]:
        shard = self.shards[query.user]
        size = len(shard.ids)
        scores = shard.vectors[:size] @ query.vector
        scores[~shard.matching[:size]] = -np.inf
        top = np.argpartition(scores, size - k)[size - k :] if size > k else np.arange(size)
        top = top[np.argsort(-scores[top])]
        return [shard.ids[row] for row in top if scores[row] > -np.inf]

    async def health(self) -> bool:
        return False

    async def used_bytes(self) -> int | None:
        return None

    async def aclose(self) -> None:
        self.shards.clear()
