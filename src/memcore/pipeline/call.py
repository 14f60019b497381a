"""The call every policy sees, the result it hands back, and what a policy is.

A :class:`Call` is one operation on one port (``service``, ``store`` or ``embedder``):
its name, the user it is for, its arguments by name, and the deadline by which the
whole service operation should end. A :class:`Result` is the value the port returned
and its :class:`~memcore.domain.Status` (``stored``/``deferred`` for writes,
``complete``/``degraded``/``partial`` for reads), so what a policy did instead of
failing travels back in the return value, never in a side channel.

A :class:`Policy` is an async callable ``policy(call, proceed)`` that may change the
call, call ``proceed(call)`` (the rest of the chain) zero or more times, and change the
result: the shape of ASGI middleware or an httpx transport. An :class:`InlinePolicy` is a
policy that acts only at a call's boundaries or on its failure (retry, breaker, metrics,
degradation): it is written as hooks, so that the pipeline runs a row of them inline, in
one frame, instead of one coroutine each.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Generic, Literal, TypeVar

# typing_extensions' NamedTuple: a generic named tuple (Result[T]) on Python 3.10 too.
from typing_extensions import NamedTuple

from memcore.domain import HealthCheck, Status

__all__ = ["DETOUR", "Call", "Handler", "InlinePolicy", "Policy", "Port", "Result"]

T = TypeVar("T")

Port = Literal["service", "store", "embedder"]


class Call(NamedTuple):
    """One operation on one port; ``args`` are the port method's arguments by name.

    Immutable, and a named tuple rather than a frozen dataclass: two are made per store
    call, and a tuple is built several times faster (see docs/benchmarks.md).
    """

    port: Port
    operation: str
    user_id: str | None
    args: Mapping[str, Any]
    deadline: float | None = None
    """``time.monotonic()`` past which no new attempt should start (``None``: no limit)."""

    def with_args(self, **changes: Any) -> Call:
        """This call with some arguments replaced."""
        return self._replace(args={**self.args, **changes})

    def on(self, port: Port, operation: str, **args: Any) -> Call:
        """A call on another port made for this one: same user and deadline."""
        return Call(port, operation, self.user_id, args, self.deadline)

    def time_left(self) -> float | None:
        """Seconds until the deadline (never negative), or ``None`` without one."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())


class Result(NamedTuple, Generic[T]):
    """What a call returned, and whether it was stored, deferred, complete or not
    (immutable; a named tuple, like :class:`Call`).
    """

    value: T
    status: Status


Handler = Callable[[Call], Awaitable[Result[Any]]]
"""The rest of a chain: runs a call through the remaining policies and the port."""


class Policy:
    """One cross-cutting rule (retry, audit...) around the calls of some ports.

    Subclasses set :attr:`name` and :attr:`ports`, narrow :attr:`operations` when they
    care about a few, and implement ``__call__``. The hooks below default to nothing.
    """

    name: ClassVar[str]
    """How ``memcore inspect`` and logs call it."""
    ports: frozenset[Port]
    """The ports whose calls it wraps."""
    operations: frozenset[str] | None = None
    """The operations it wraps (``None``: every operation of its ports)."""

    async def __call__(self, call: Call, proceed: Handler) -> Result[Any]:
        """Run ``call`` under this policy; ``proceed`` runs the rest of the chain."""
        raise NotImplementedError

    def bind(self, port: Port, below: Handler) -> None:
        """Told, once per port, the chain below this policy (for work outside a call)."""

    async def start(self) -> None:
        """Called once when the service starts (after the store's schema is ensured)."""

    def health(self, port: Port, check: HealthCheck) -> HealthCheck:
        """``check`` of ``port`` as this policy sees it (its own state as facts)."""
        del port
        return check

    async def aclose(self) -> None:
        """Release what the policy holds; called once, outermost policy first."""

    def describe(self) -> str:
        """One line for ``memcore inspect``: the name and the settings that matter."""
        return self.name


DETOUR: Any = object()
"""What :meth:`InlinePolicy.enter` returns to take this call through
:meth:`InlinePolicy.detour` (its full form) instead of its hooks."""


class InlinePolicy(Policy):
    """A policy written as hooks around one call, so the pipeline can run a row of them
    in one frame: :meth:`enter` before the call, then :meth:`exit` on its result, or
    :meth:`fail` on its error. ``__call__`` runs the same hooks, so an inline policy is
    also an ordinary ``policy(call, proceed)``.
    """

    def enter(self, call: Call) -> Any:
        """Before ``call`` goes on: a token for :meth:`exit` or :meth:`fail`; raise to
        refuse the call, or return :data:`DETOUR` to run :meth:`detour` instead.
        """
        del call

    def exit(self, call: Call, token: Any, result: Result[Any]) -> Result[Any]:
        """After ``call`` succeeded: its result as this policy hands it back."""
        del call, token
        return result

    async def fail(
        self, call: Call, token: Any, error: BaseException, proceed: Handler
    ) -> Result[Any]:
        """After ``call`` raised ``error``: raise (``error`` itself, usually) or recover
        with a result, possibly by calling ``proceed`` (the chain below) again.
        """
        del call, token, proceed
        raise error

    async def detour(self, call: Call, proceed: Handler) -> Result[Any]:
        """The call in full, when :meth:`enter` said :data:`DETOUR`."""
        raise NotImplementedError

    async def __call__(self, call: Call, proceed: Handler) -> Result[Any]:
        token = self.enter(call)
        if token is DETOUR:
            return await self.detour(call, proceed)
        try:
            result = await proceed(call)
        except BaseException as error:  # noqa: BLE001 - fail decides (and re-raises)
            return await self.fail(call, token, error, proceed)
        return self.exit(call, token, result)
