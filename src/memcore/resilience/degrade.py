"""Graceful degradation: keep the agent talking while its memory store is away.

:class:`DegradationPolicy` is the pipeline layer that, for store calls:

- defers a **write** that fails with a retryable store error to the
  :class:`~memcore.resilience.outbox.Outbox` (durable by default) and returns its
  result with status ``deferred``: a receipt that says "not yet stored". An
  **update** answers with the record as stored, so it cannot wait: it raises the
  store's retryable error, and while writes wait it is refused (retryable too) unless
  they can be replayed first, so it never lands before the writes it follows;
- answers a **read** that fails so with an empty result, status ``degraded``;
- while the outbox holds anything, first tries to replay it (at most once per
  ``replay_interval`` seconds), and queues writes behind it, so one task's writes reach
  the store in the order it made them; a read answered meanwhile is ``degraded`` (it may
  miss what waits). A background task replays every ``replay_interval`` until the
  outbox is empty;
- when the store is away at start-up, reports ``ensure_schema`` as deferred, answers
  reads ``degraded`` without asking the store, and ensures the schema before the first
  replay. :meth:`start` adopts the journals of processes that exited with deferred
  writes and replays them right away.

Without this layer (``MEMCORE_DEGRADATION__POLICY=raise``) every error propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from memcore.domain import HealthCheck, HealthStatus, Status
from memcore.errors import MemcoreError, StoreError, StoreUnavailableError
from memcore.pipeline.call import DETOUR, Call, Handler, InlinePolicy, Port, Result
from memcore.pipeline.ports import STORE_OPERATIONS, StoreOperation
from memcore.resilience.outbox import Outbox
from memcore.resilience.retry import is_retryable

__all__ = ["DegradationPolicy"]

logger = logging.getLogger("memcore.degrade")


def _unavailable(exc: BaseException) -> bool:
    return isinstance(exc, StoreError) and is_retryable(exc)


class DegradationPolicy(InlinePolicy):
    """Defers writes and degrades reads while the store is unavailable."""

    name = "degradation"
    ports = frozenset({"store"})

    def __init__(
        self,
        outbox: Outbox,
        *,
        backend: str,
        replay_interval: float = 1.0,
        on_degraded_read: Callable[[str], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.backend = backend
        self.replay_interval = replay_interval
        self.on_degraded_read = on_degraded_read
        self._below: Handler | None = None
        self._schema_call: Call | None = None  # ensure_schema, while it waits for the store
        self._last_attempt = -float("inf")
        self._replayer: asyncio.Task[None] | None = None

    @property
    def backlog(self) -> bool:
        """True while writes wait in the outbox or the schema is not yet ensured."""
        return bool(self.outbox) or self._schema_call is not None

    def bind(self, port: Port, below: Handler) -> None:
        del port
        self._below = below

    def enter(self, call: Call) -> Any:
        """Straight on while nothing waits; else (and for the schema) :meth:`detour`."""
        if call.operation == "ensure_schema" or self.backlog:
            return DETOUR
        return None

    def exit(self, call: Call, token: Any, result: Result[Any]) -> Result[Any]:
        del token
        if result.status is Status.DEGRADED and not STORE_OPERATIONS[call.operation].writes:
            return self._degraded(call, result.value)  # counted as such
        return result

    async def fail(
        self, call: Call, token: Any, error: BaseException, proceed: Handler
    ) -> Result[Any]:
        """A write deferred, a read answered empty, when the store is unavailable."""
        del token, proceed
        operation = STORE_OPERATIONS[call.operation]
        if operation.empty is None or not _unavailable(error):
            raise error
        self._last_attempt = time.monotonic()  # the next try after replay_interval
        if operation.writes:
            return await self._defer(call, operation, error)
        return self._degraded(call, operation.empty())

    async def detour(self, call: Call, proceed: Handler) -> Result[Any]:
        """The schema call, or a call while writes wait: behind them, or in the outbox."""
        if call.operation == "ensure_schema":
            return await self._ensure(call, proceed)
        operation = STORE_OPERATIONS[call.operation]
        if operation.empty is None:
            if operation.writes and not await self._caught_up():
                raise self._waiting(call)  # an update may not pass the writes it follows
            return await proceed(call)
        if operation.writes:
            return await self._write(call, proceed, operation)
        return await self._read(call, proceed, operation)

    async def start(self) -> None:
        """Adopt deferred writes left by exited processes and replay what waits, now."""
        if await self.outbox.adopt() or self.backlog:
            with contextlib.suppress(MemcoreError):  # counted and logged by the replay
                await self.recover()
            if self.backlog:
                self._start_replayer()

    async def recover(self) -> bool:
        """Ensure a pending schema and replay the outbox now; ``True`` when nothing is left."""
        self._last_attempt = time.monotonic()
        below = self._bound()
        if self._schema_call is not None:
            try:
                await below(self._schema_call)
            except StoreError as exc:
                if not _unavailable(exc):
                    raise
                return False
            self._schema_call = None
            logger.info("store back: schema ensured")
        return await self.outbox.replay(below)

    async def _ensure(self, call: Call, proceed: Handler) -> Result[Any]:
        try:
            return await proceed(call)
        except StoreError as exc:
            if not _unavailable(exc):
                raise
        logger.warning("store unavailable at start; schema check deferred")
        self._schema_call = call
        self._last_attempt = time.monotonic()  # the next try after replay_interval
        self._start_replayer()
        return Result(None, Status.DEFERRED)

    async def _caught_up(self) -> bool:
        """Whether calls may go straight to the store (nothing is waiting in front)."""
        if not self.backlog:
            return True
        if time.monotonic() - self._last_attempt < self.replay_interval:
            return False
        return await self.recover()

    async def _write(self, call: Call, proceed: Handler, operation: StoreOperation) -> Result[Any]:
        if not await self._caught_up():
            return await self._defer(call, operation, None)
        try:
            return await proceed(call)
        except BaseException as error:  # noqa: BLE001 - fail decides (and re-raises)
            return await self.fail(call, None, error, proceed)

    async def _defer(
        self, call: Call, operation: StoreOperation, failure: BaseException | None
    ) -> Result[Any]:
        """``call`` put in the outbox, its result ``deferred``; raise if it is full."""
        if not await self.outbox.put(call):
            if failure is not None:
                raise failure
            raise StoreUnavailableError(
                "store unavailable and the outbox is full",
                operation=call.operation,
                backend=self.backend,
                user_id=call.user_id,
            )
        self._start_replayer()
        assert operation.empty is not None  # noqa: S101 - only writes with an empty value come here
        return Result(operation.empty(), Status.DEFERRED)

    async def _read(self, call: Call, proceed: Handler, operation: StoreOperation) -> Result[Any]:
        assert operation.empty is not None  # noqa: S101 - only reads with an empty value come here
        caught_up = await self._caught_up()
        if self._schema_call is not None:  # the store never had its schema ensured
            return self._degraded(call, operation.empty())
        try:
            result = await proceed(call)
        except BaseException as error:  # noqa: BLE001 - fail decides (and re-raises)
            return await self.fail(call, None, error, proceed)
        if caught_up:
            return self.exit(call, None, result)
        return self._degraded(call, result.value)  # it may miss what waits

    def _waiting(self, call: Call) -> StoreUnavailableError:
        """Why an update (a write that cannot wait) is refused while writes wait."""
        return StoreUnavailableError(
            "the store is unavailable and earlier writes wait in the outbox; the update was "
            "not applied (try again once they are stored)",
            operation=call.operation,
            backend=self.backend,
            user_id=call.user_id,
        )

    def _degraded(self, call: Call, value: Any) -> Result[Any]:
        """``value`` as a ``degraded`` answer, counted."""
        if self.on_degraded_read is not None:
            self.on_degraded_read(call.operation)
        return Result(value, Status.DEGRADED)

    def _bound(self) -> Handler:
        if self._below is None:
            raise RuntimeError("the degradation policy is not part of a pipeline")
        return self._below

    def _start_replayer(self) -> None:
        if self._replayer is None or self._replayer.done():
            self._replayer = asyncio.get_running_loop().create_task(self._replay_until_empty())

    async def _replay_until_empty(self) -> None:
        while self.backlog:
            await asyncio.sleep(self.replay_interval)
            try:
                await self.recover()
            except Exception:  # a bug must not kill the loop silently, nor spin it
                logger.exception("outbox replay failed")

    def health(self, port: Port, check: HealthCheck) -> HealthCheck:
        del port
        facts = {
            **check.facts,
            "outbox_entries": len(self.outbox),
            "outbox_dropped": self.outbox.dropped,
            "schema_pending": self._schema_call is not None,
        }
        if not self.backlog or check.status is HealthStatus.UNHEALTHY:
            return replace(check, facts=facts)
        waiting = (
            "schema not ensured: the store was unavailable at start"
            if self._schema_call is not None
            else f"{len(self.outbox)} deferred writes waiting"
        )
        detail = f"{waiting}; {check.detail}".rstrip("; ")
        return replace(check, status=HealthStatus.DEGRADED, detail=detail, facts=facts)

    async def aclose(self) -> None:
        if self._replayer is not None:
            self._replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer
        try:
            if self.backlog and self._below is not None:
                with contextlib.suppress(MemcoreError):  # failures were logged and counted
                    await self.recover()  # a last chance to hand deferred writes over
        finally:
            await self.outbox.aclose()

    def describe(self) -> str:
        where = self.outbox.directory or "memory (lost when the process exits)"
        return f"degradation (outbox {where}, {self.outbox.capacity} records)"
