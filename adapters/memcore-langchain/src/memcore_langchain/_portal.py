"""Where the service's coroutines run: sync methods on one background event loop.

A sync method cannot run a coroutine on the caller's loop when one is already running
(a notebook, an async app calling sync code), and ``asyncio.run`` per call would start
and tear down a loop each time. So every sync call of this package is sent to a single
event loop running in a daemon thread, started on first use, and the caller waits for
its result: in a plain script, a worker thread or inside a running loop alike.

Async methods await the service directly on the caller's loop, except for a service
made by :func:`connect_sync`, which lives on the background loop: a store whose
connections belong to the loop that opened them (Redis) must be driven from that loop
only, so calls from any other loop are handed over to it.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import memcore

T = TypeVar("T")


class _Portal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.residents: weakref.WeakSet[memcore.MemoryService] = weakref.WeakSet()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="agent-memcore-langchain", daemon=True
                ).start()
                self._loop = loop
            return self._loop


_PORTAL = _Portal()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on the background loop and return its result (or raise)."""
    return asyncio.run_coroutine_threadsafe(coroutine, _PORTAL.loop()).result()


async def call(service: memcore.MemoryService, coroutine: Coroutine[Any, Any, T]) -> T:
    """Await ``coroutine`` (a call of ``service``) on the loop ``service`` lives on."""
    if service not in _PORTAL.residents or asyncio.get_running_loop() is _PORTAL.loop():
        return await coroutine
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, _PORTAL.loop()))


@contextmanager
def connect_sync(**settings: Any) -> Iterator[memcore.MemoryService]:
    """A started service on the loop this package's sync methods use; closed on exit.

    ``settings`` are :func:`memcore.connect`'s. Use it when you call the sync methods
    (``invoke``, ``similarity_search``, a sync agent's tools) with a store whose
    connections belong to one event loop, such as Redis; the async methods work with it
    too, from any loop. The in-memory store needs none of this.
    """
    service = run(_connect(settings))
    _PORTAL.residents.add(service)
    try:
        yield service
    finally:
        run(service.aclose())


async def _connect(settings: dict[str, Any]) -> memcore.MemoryService:
    return await memcore.connect(**settings)
