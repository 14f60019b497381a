"""One ordered list of policies, and the chains it builds in front of each port.

``Pipeline([audit, encryption, degradation, breaker, metrics, retry])`` is the order a
call goes through, outermost first; each port's chain holds the policies that wrap
that port, in that order. The chain of each operation is built once, skipping the
policies that do not wrap it, so a call pays only for the policies it meets.
:class:`StoreFront` and :class:`EmbedderFront` put a chain in front of a real port and
are ports themselves; :meth:`Pipeline.describe` is what ``memcore inspect`` prints.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar, cast

from memcore.domain import HealthCheck
from memcore.pipeline.call import DETOUR, Call, Handler, InlinePolicy, Policy, Port, Result
from memcore.pipeline.ports import (
    EmbedderCalls,
    PortMethod,
    StoreCalls,
    embedder_terminal,
    store_terminals,
)
from memcore.ports import Embedder, MemoryStore

__all__ = ["EmbedderFront", "Pipeline", "StoreFront"]

PolicyT = TypeVar("PolicyT", bound=Policy)


class Pipeline:
    """Policies in call order, outermost first; see the module docstring."""

    def __init__(self, policies: Sequence[Policy] = ()) -> None:
        self.policies = tuple(policies)
        self._closed: set[int] = set()

    def store(self, store: MemoryStore) -> StoreFront:
        """``store`` behind this pipeline's store chain."""
        return StoreFront(store, self)

    def embedder(self, embedder: Embedder) -> EmbedderFront:
        """``embedder`` behind this pipeline's embedder chain."""
        return EmbedderFront(embedder, self)

    def of(self, port: Port) -> tuple[Policy, ...]:
        """The policies that wrap ``port``, outermost first."""
        return tuple(policy for policy in self.policies if port in policy.ports)

    def find(self, kind: type[PolicyT]) -> PolicyT | None:
        """The first policy that is a ``kind``, if there is one."""
        return next((p for p in self.policies if isinstance(p, kind)), None)

    def chains(self, port: Port, terminals: Mapping[str, Handler]) -> dict[str, Handler]:
        """Per operation of ``terminals``, the handler that runs ``port``'s policies in
        order, then the operation's terminal; each policy is told (:meth:`Policy.bind`) the
        chain below it. A row of inline policies runs in one frame (:func:`_fused`).
        """
        ordered = self.of(port)
        below: dict[str, list[Handler]] = {}
        for operation, terminal in terminals.items():
            wrapping = [
                i
                for i, policy in enumerate(ordered)
                if policy.operations is None or operation in policy.operations
            ]
            chain = _chain([ordered[i] for i in wrapping], terminal)
            # handlers[i] runs the policies ordered[i:] that wrap this operation.
            handlers = [chain[sum(1 for w in wrapping if w < i)] for i in range(len(ordered) + 1)]
            below[operation] = handlers
        for i, policy in enumerate(ordered):
            policy.bind(port, functools.partial(_dispatch, below, i + 1))
        return {operation: handlers[0] for operation, handlers in below.items()}

    async def start(self) -> None:
        """Start every policy (once the store's schema is ensured)."""
        for policy in self.policies:
            await policy.start()

    def health(self, port: Port, check: HealthCheck) -> HealthCheck:
        """``check`` of ``port`` as its policies report it, innermost first."""
        for policy in reversed(self.of(port)):
            check = policy.health(port, check)
        return check

    async def aclose(self, port: Port) -> None:
        """Close ``port``'s policies that are not closed yet, outermost first."""
        for policy in self.of(port):
            if id(policy) not in self._closed:
                self._closed.add(id(policy))
                await policy.aclose()

    def describe(self, backends: dict[Port, str]) -> dict[Port, list[str]]:
        """Each port's layers as ``memcore inspect`` prints them, ending in its backend."""
        return {
            port: [*(policy.describe() for policy in self.of(port)), backend]
            for port, backend in backends.items()
        }


def _chain(policies: Sequence[Policy], terminal: Handler) -> list[Handler]:
    """``handlers[i]`` runs ``policies[i:]``, then ``terminal``."""
    handlers: list[Handler] = [terminal] * (len(policies) + 1)
    for i in range(len(policies) - 1, -1, -1):
        policy = policies[i]
        if not isinstance(policy, InlinePolicy):
            handlers[i] = _link(policy, handlers[i + 1])
            continue
        end = i + 1  # the row of inline policies starting here ends before policies[end]
        while end < len(policies) and isinstance(policies[end], InlinePolicy):
            end += 1
        row = cast("tuple[InlinePolicy, ...]", tuple(policies[i:end]))
        handlers[i] = _fused(row, tuple(handlers[i + 1 : end + 1]))
    return handlers


def _link(policy: Policy, proceed: Handler) -> Handler:
    """``policy`` in front of ``proceed``: a plain function, the cheapest call there is."""

    def handler(call: Call) -> Awaitable[Result[Any]]:
        return policy(call, proceed)

    return handler


def _fused(row: tuple[InlinePolicy, ...], rests: tuple[Handler, ...]) -> Handler:
    """The inline policies ``row`` in one frame: each one's :meth:`~InlinePolicy.enter`
    in order, the chain below them (``rests[-1]``), then each one's ``exit`` (or ``fail``)
    in reverse, exactly as if each wrapped the next; ``rests[i]`` is the chain below
    ``row[i]`` (what its ``fail`` or ``detour`` may call).
    """
    # A port's method right below: called from this frame, its value wrapped here.
    below = rests[-1]
    begin, finish = (
        (below.start, below.finish) if isinstance(below, PortMethod) else (below, _as_is)
    )

    enters = tuple(policy.enter for policy in row)
    # The exits that do something (not InlinePolicy's own), innermost first.
    exits = tuple(
        (index, row[index].exit)
        for index in range(len(row) - 1, -1, -1)
        if type(row[index]).exit is not InlinePolicy.exit
    )

    async def handler(call: Call) -> Result[Any]:
        tokens: list[Any] = []
        try:
            for enter in enters:
                token = enter(call)
                if token is DETOUR:
                    index = len(tokens)
                    result = await row[index].detour(call, rests[index])
                    break
                tokens.append(token)
            else:
                result = finish(await begin(call))
        except BaseException as error:  # noqa: BLE001 - the row's fail hooks decide
            return await _unwind(row, rests, call, tokens, error)
        entered = len(tokens)
        try:
            for index, leave in exits:
                if index < entered:
                    result = leave(call, tokens[index], result)
        except BaseException as error:  # noqa: BLE001 - the policies outside it decide
            return await _unwind(row, rests, call, tokens[:index], error)
        return result

    return handler


def _as_is(result: Result[Any]) -> Result[Any]:
    return result


async def _unwind(
    row: tuple[InlinePolicy, ...],
    rests: tuple[Handler, ...],
    call: Call,
    tokens: list[Any],
    error: BaseException,
) -> Result[Any]:
    """The hooks of ``row[: len(tokens)]`` after the call failed with ``error`` inside
    them, innermost first: each ``fail`` raises or recovers, the next one out sees which.
    """
    failure: BaseException | None = error
    result: Result[Any] | None = None
    for index in range(len(tokens) - 1, -1, -1):
        policy = row[index]
        try:
            if failure is None:
                assert result is not None  # noqa: S101 - a recovered call has a result
                result = policy.exit(call, tokens[index], result)
            else:
                result = await policy.fail(call, tokens[index], failure, rests[index])
                failure = None
        except BaseException as raised:  # noqa: BLE001 - handed to the next policy out
            failure = raised
    if failure is not None:
        raise failure
    assert result is not None  # noqa: S101 - no failure left: a policy recovered
    return result


def _dispatch(below: dict[str, list[Handler]], index: int, call: Call) -> Any:
    return below[call.operation][index](call)


class StoreFront(StoreCalls):
    """``store`` behind the pipeline's store chain: a store, plus :meth:`run` for status."""

    def __init__(self, store: MemoryStore, pipeline: Pipeline) -> None:
        self.backend = store.backend
        self.inner = store
        self.pipeline = pipeline
        self._chains = pipeline.chains("store", store_terminals(store))

    @property
    def target(self) -> str:
        return self.inner.target

    def run(self, call: Call) -> Awaitable[Result[Any]]:
        return self._chains[call.operation](call)

    async def health(self) -> HealthCheck:
        return self.pipeline.health("store", await self.inner.health())

    async def aclose(self) -> None:
        try:
            await self.pipeline.aclose("store")
        finally:
            await self.inner.aclose()


class EmbedderFront(EmbedderCalls):
    """``embedder`` behind the pipeline's embedder chain."""

    def __init__(self, embedder: Embedder, pipeline: Pipeline) -> None:
        self.backend = embedder.backend
        self.inner = embedder
        self.pipeline = pipeline
        self._embed = pipeline.chains("embedder", {"embed": embedder_terminal(embedder)})["embed"]

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def model(self) -> str:
        return self.inner.model

    def run(self, call: Call) -> Awaitable[Result[Any]]:
        return self._embed(call)

    async def health(self) -> HealthCheck:
        return self.pipeline.health("embedder", await self.inner.health())

    async def aclose(self) -> None:
        try:
            await self.pipeline.aclose("embedder")
        finally:
            await self.inner.aclose()
