"""The ports as calls: each port method once, as a :class:`~memcore.pipeline.Call`.

:class:`StoreCalls` and :class:`EmbedderCalls` satisfy the
:class:`~memcore.ports.MemoryStore` and :class:`~memcore.ports.Embedder` ports by
turning every method into a call for :meth:`run`; a pipeline's front and a routing store
(one that sends each call to another store) only implement ``run``. :data:`STORE_OPERATIONS`
says what each store operation is, and :func:`store_terminal` (:func:`store_terminals`:
one per operation) / :func:`embedder_terminal` turn a call back into the method call on a
real port. This module is the one place outside the adapters where the store port's method
list is written.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from memcore.domain import (
    EmbeddingSchema,
    HealthCheck,
    MemoryRecord,
    Page,
    RecordUpdate,
    SearchFilter,
    SearchHit,
    Status,
    UserIds,
)
from memcore.pipeline.call import Call, Handler, Result
from memcore.ports import Embedder, MemoryStore, Vectors

__all__ = [
    "STORE_OPERATIONS",
    "EmbedderCalls",
    "PortMethod",
    "StoreCalls",
    "StoreOperation",
    "embedder_terminal",
    "store_terminal",
    "store_terminals",
]


@dataclass(frozen=True)
class StoreOperation:
    """What a store operation is, for the policies that treat operations differently."""

    writes: bool
    """It changes data: while the store is away it can wait in the outbox."""
    parameters: tuple[str, ...] = ()
    """Its arguments after the user id, in the port method's order."""
    scoped: bool = True
    """Its first argument is the user id."""
    empty: Callable[[], Any] | None = None
    """What it returns when the store cannot take it: a deferred write's value, or a
    degraded read's (empty) answer. ``None``: it fails instead.
    """


def _no_vectors() -> tuple[list[MemoryRecord], Vectors]:
    return [], np.empty((0, 0), dtype=np.float32)


STORE_OPERATIONS: Mapping[str, StoreOperation] = {
    "ensure_schema": StoreOperation(writes=False, parameters=("schema",), scoped=False),
    "upsert": StoreOperation(writes=True, parameters=("records", "vectors"), empty=lambda: None),
    # An update answers with the record it made: it cannot wait in the outbox.
    "update": StoreOperation(writes=True, parameters=("update", "vector")),
    "get": StoreOperation(writes=False, parameters=("ids",), empty=list),
    "get_with_vectors": StoreOperation(writes=False, parameters=("ids",), empty=_no_vectors),
    "user_ids": StoreOperation(writes=False, scoped=False, empty=list),
    "delete": StoreOperation(writes=True, parameters=("ids",), empty=int),
    "search": StoreOperation(writes=False, parameters=("vector", "k", "filters"), empty=list),
    "list": StoreOperation(
        writes=False, parameters=("filters", "limit", "cursor"), empty=lambda: Page(items=())
    ),
    "count": StoreOperation(writes=False, parameters=("filters",), empty=int),
    "forget_user": StoreOperation(writes=True, empty=int),
}


class StoreCalls(ABC):
    """A :class:`~memcore.ports.MemoryStore` whose every data method is one :meth:`run`."""

    backend: str

    @property
    @abstractmethod
    def target(self) -> str:
        """Where the data lives, without credentials (see the port)."""

    @abstractmethod
    def run(self, call: Call) -> Awaitable[Result[Any]]:
        """Run one store call and return its value with its status (to be awaited)."""

    async def _value(self, operation: str, user_id: str | None, **args: Any) -> Any:
        return (await self.run(Call("store", operation, user_id, args))).value

    async def ensure_schema(self, schema: EmbeddingSchema) -> None:
        await self._value("ensure_schema", None, schema=schema)

    async def upsert(self, user_id: str, records: Sequence[MemoryRecord], vectors: Vectors) -> None:
        await self._value("upsert", user_id, records=records, vectors=vectors)

    async def update(
        self, user_id: str, update: RecordUpdate, vector: Vectors | None
    ) -> MemoryRecord | None:
        updated: MemoryRecord | None = await self._value(
            "update", user_id, update=update, vector=vector
        )
        return updated

    async def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        found: list[MemoryRecord] = await self._value("get", user_id, ids=ids)
        return found

    async def get_with_vectors(
        self, user_id: str, ids: Sequence[str]
    ) -> tuple[list[MemoryRecord], Vectors]:
        found: tuple[list[MemoryRecord], Vectors] = await self._value(
            "get_with_vectors", user_id, ids=ids
        )
        return found

    async def user_ids(self) -> UserIds:
        """The users, with the status the chain gave them (``degraded``: empty)."""
        found = await self.run(Call("store", "user_ids", None, {}))
        return UserIds(found.value, status=found.status)

    async def delete(self, user_id: str, ids: Sequence[str]) -> int:
        deleted: int = await self._value("delete", user_id, ids=ids)
        return deleted

    async def search(
        self, user_id: str, vector: Vectors, k: int, filters: SearchFilter
    ) -> list[SearchHit[MemoryRecord]]:
        hits: list[SearchHit[MemoryRecord]] = await self._value(
            "search", user_id, vector=vector, k=k, filters=filters
        )
        return hits

    async def list(
        self, user_id: str, filters: SearchFilter, limit: int, cursor: str | None = None
    ) -> Page[MemoryRecord]:
        page: Page[MemoryRecord] = await self._value(
            "list", user_id, filters=filters, limit=limit, cursor=cursor
        )
        return page

    async def count(self, user_id: str, filters: SearchFilter) -> int:
        counted: int = await self._value("count", user_id, filters=filters)
        return counted

    async def forget_user(self, user_id: str) -> int:
        forgotten: int = await self._value("forget_user", user_id)
        return forgotten

    @abstractmethod
    async def health(self) -> HealthCheck: ...

    @abstractmethod
    async def aclose(self) -> None: ...


class EmbedderCalls(ABC):
    """An :class:`~memcore.ports.Embedder` whose ``embed`` is one :meth:`run`."""

    backend: str

    @property
    @abstractmethod
    def dimension(self) -> int: ...

    @property
    @abstractmethod
    def model(self) -> str: ...

    @abstractmethod
    def run(self, call: Call) -> Awaitable[Result[Any]]:
        """Run one embedder call and return its value with its status (to be awaited)."""

    async def embed(self, texts: Sequence[str]) -> Vectors:
        vectors: Vectors = (await self.run(Call("embedder", "embed", None, {"texts": texts}))).value
        return vectors

    @abstractmethod
    async def health(self) -> HealthCheck: ...

    @abstractmethod
    async def aclose(self) -> None: ...


def _arguments(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """What takes the values of ``names``, in order, out of a call's arguments."""
    if len(names) > 1:
        return operator.itemgetter(*names)
    if names:
        name = names[0]
        return lambda args: (args[name],)
    return lambda _: ()


def store_terminals(store: MemoryStore) -> dict[str, Handler]:
    """Per store operation, the end of its chain: the method called on ``store`` itself."""
    return {operation: _terminal(store, operation) for operation in STORE_OPERATIONS}


def store_terminal(store: MemoryStore) -> Handler:
    """The end of a store chain: the call made on ``store`` itself, whatever its operation."""
    terminals = store_terminals(store)

    def run(call: Call) -> Awaitable[Result[Any]]:
        return terminals[call.operation](call)

    return run


class PortMethod:
    """The end of a chain: a method of a real port called for a call, in two halves that
    a row of inline policies runs in its own frame: :attr:`start` makes the method's
    awaitable, :attr:`finish` turns its value into a :class:`Result`. A handler too.
    """

    __slots__ = ("finish", "start")

    def __init__(
        self, start: Callable[[Call], Awaitable[Any]], finish: Callable[[Any], Result[Any]]
    ) -> None:
        self.start = start
        self.finish = finish

    async def __call__(self, call: Call) -> Result[Any]:
        return self.finish(await self.start(call))


def _terminal(store: MemoryStore, operation: str) -> PortMethod:
    about = STORE_OPERATIONS[operation]
    arguments = _arguments(about.parameters)
    scoped = about.scoped

    def start(call: Call) -> Awaitable[Any]:
        method = getattr(store, operation)
        args = arguments(call.args)
        return method(call.user_id, *args) if scoped else method(*args)  # type: ignore[no-any-return]

    return PortMethod(start, _stored if about.writes else _answered)


def _stored(value: Any) -> Result[Any]:
    return Result(value, Status.STORED)


def _answered(value: Any) -> Result[Any]:
    # A store may say its answer is partial (an index still being built).
    return Result(value, getattr(value, "status", Status.COMPLETE))


def _complete(value: Any) -> Result[Any]:
    return Result(value, Status.COMPLETE)


def embedder_terminal(embedder: Embedder) -> Handler:
    """The end of an embedder chain: ``embed`` on ``embedder`` itself."""
    return PortMethod(lambda call: embedder.embed(**call.args), _complete)
