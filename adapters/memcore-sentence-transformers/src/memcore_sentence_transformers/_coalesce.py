"""Gather concurrent embed calls into shared forward passes.

A model forward pass costs nearly the same for one text as for dozens, so a busy agent
process should not pay one pass per call. :class:`Coalescer` queues every call; one drain
task takes queued calls up to ``max_batch`` texts, runs them together and hands each
caller its own rows. While a pass runs, new calls queue up and form the next batch
("natural batching"), so under load batches fill without any waiting. Only a call that
finds the model idle waits up to ``max_wait`` seconds for company.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from memcore.ports import Vectors

Runner = Callable[[list[str]], Awaitable[Vectors]]


@dataclass(frozen=True, slots=True)
class _Call:
    texts: Sequence[str]
    future: asyncio.Future[Vectors]


class Coalescer:
    """Runs ``run`` on batches made of concurrent :meth:`submit` calls, one batch at a time."""

    def __init__(self, run: Runner, *, max_batch: int, max_wait: float) -> None:
        self._run = run
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._queue: deque[_Call] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self.batches = 0
        """Forward passes run so far (for tests and metrics)."""

    async def submit(self, texts: Sequence[str]) -> Vectors:
        """Return ``run``'s rows for ``texts``, computed together with concurrent calls."""
        loop = asyncio.get_running_loop()
        call = _Call(texts, loop.create_future())
        self._queue.append(call)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        return await call.future

    async def _drain(self) -> None:
        try:
            if self._max_wait > 0 and self._queued_texts() < self._max_batch:
                await asyncio.sleep(self._max_wait)
            while self._queue:
                await self._run_batch(self._take())
        except BaseException as exc:
            # Cancelled (loop shutting down): nobody will drain the rest, so fail it.
            for call in self._queue:
                _settle(call.future, exc)
            self._queue.clear()
            raise

    def _queued_texts(self) -> int:
        return sum(len(call.texts) for call in self._queue)

    def _take(self) -> list[_Call]:
        batch = [self._queue.popleft()]
        size = len(batch[0].texts)
        while self._queue and size + len(self._queue[0].texts) <= self._max_batch:
            call = self._queue.popleft()
            batch.append(call)
            size += len(call.texts)
        return batch

    async def _run_batch(self, batch: list[_Call]) -> None:
        live = [call for call in batch if not call.future.done()]  # skip cancelled callers
        if not live:
            return
        try:
            vectors = await self._run([text for call in live for text in call.texts])
        except BaseException as exc:
            for call in live:
                _settle(call.future, exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.batches += 1
        if len(live) == 1:
            _settle(live[0].future, vectors)
            return
        start = 0
        for call in live:
            end = start + len(call.texts)
            # A copy, so one caller's rows do not keep the whole batch alive or share it.
            _settle(call.future, vectors[start:end].copy())
            start = end


def _settle(future: asyncio.Future[Vectors], outcome: Vectors | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, asyncio.CancelledError):
        future.cancel()
    elif isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
