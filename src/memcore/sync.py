"""A small synchronous facade for scripts, notebooks and the CLI.

It runs a private event loop in a daemon thread, so it works with or without a running
loop in the calling thread, and every backend connection stays on that one loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from typing_extensions import Self

from memcore.domain import (
    HealthReport,
    Intervention,
    MemoryRecord,
    MemoryStats,
    Outcome,
    Page,
    Receipt,
    Reflection,
    SearchFilter,
    SearchHit,
)
from memcore.domain.worked import WhatWorked
from memcore.service import MemoryService

T = TypeVar("T")


class SyncMemoryService:
    """Blocking twin of :class:`~memcore.MemoryService` for the common calls.

    ``SyncMemoryService.connect(**settings)`` builds and starts a service; use it as a
    context manager or call :meth:`close`.
    """

    def __init__(
        self, service: MemoryService, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ) -> None:
        self.service = service
        self._loop = loop
        self._thread = thread

    @classmethod
    def connect(cls, **overrides: Any) -> SyncMemoryService:
        """Start a loop thread, then build and start the service on it."""
        from memcore.container import build_service  # noqa: PLC0415

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="memcore-sync", daemon=True)
        thread.start()
        try:
            service = asyncio.run_coroutine_threadsafe(build_service(**overrides), loop).result()
        except BaseException:
            _stop(loop, thread)
            raise
        return cls(service, loop, thread)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def record_intervention(
        self, user_id: str, intervention_text: str, **kwargs: Any
    ) -> Receipt[Intervention]:
        """See :meth:`MemoryService.record_intervention`."""
        return self._run(self.service.record_intervention(user_id, intervention_text, **kwargs))

    def record_interventions(
        self, user_id: str, items: Sequence[Mapping[str, Any]], **kwargs: Any
    ) -> Receipt[Intervention]:
        """See :meth:`MemoryService.record_interventions`."""
        return self._run(self.service.record_interventions(user_id, items, **kwargs))

    def record_reflection(self, user_id: str, text: str, **kwargs: Any) -> Receipt[Reflection]:
        """See :meth:`MemoryService.record_reflection`."""
        return self._run(self.service.record_reflection(user_id, text, **kwargs))

    def search_interventions(
        self,
        user_id: str,
        query: Any,
        k: int = 5,
        filters: SearchFilter | Mapping[str, Any] | None = None,
        *,
        min_score: float | None = None,
    ) -> list[SearchHit[Intervention]]:
        """See :meth:`MemoryService.search_interventions`."""
        return self._run(
            self.service.search_interventions(user_id, query, k, filters, min_score=min_score)
        )

    def update_outcome(
        self,
        user_id: str,
        record_id: str,
        outcome: Outcome | str,
        *,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> Intervention:
        """See :meth:`MemoryService.update_outcome`."""
        updated = self.service.update_outcome(
            user_id, record_id, outcome, agent_id=agent_id, session_id=session_id
        )
        return self._run(updated)

    def update(self, user_id: str, record_id: str, **changes: Any) -> MemoryRecord:
        """See :meth:`MemoryService.update`."""
        return self._run(self.service.update(user_id, record_id, **changes))

    def what_worked(self, user_id: str, situation: str, **kwargs: Any) -> WhatWorked:
        """See :meth:`MemoryService.what_worked`."""
        return self._run(self.service.what_worked(user_id, situation, **kwargs))

    def search_reflections(
        self,
        user_id: str,
        query: Any,
        k: int = 5,
        filters: SearchFilter | Mapping[str, Any] | None = None,
    ) -> list[SearchHit[Reflection]]:
        """See :meth:`MemoryService.search_reflections`."""
        return self._run(self.service.search_reflections(user_id, query, k, filters))

    def get(self, user_id: str, record_id: str) -> MemoryRecord:
        """See :meth:`MemoryService.get`."""
        return self._run(self.service.get(user_id, record_id))

    def get_many(self, user_id: str, record_ids: Sequence[str]) -> list[MemoryRecord]:
        """See :meth:`MemoryService.get_many`."""
        return self._run(self.service.get_many(user_id, record_ids))

    def list(self, user_id: str, **kwargs: Any) -> Page[MemoryRecord]:
        """See :meth:`MemoryService.list`."""
        return self._run(self.service.list(user_id, **kwargs))

    def delete(self, user_id: str, record_ids: str | Sequence[str]) -> int:
        """See :meth:`MemoryService.delete`."""
        return self._run(self.service.delete(user_id, record_ids))

    def forget_user(self, user_id: str) -> int:
        """See :meth:`MemoryService.forget_user`."""
        return self._run(self.service.forget_user(user_id))

    def forget(
        self, user_id: str, *, agent_id: str | None = None, session_id: str | None = None
    ) -> int:
        """See :meth:`MemoryService.forget`."""
        return self._run(self.service.forget(user_id, agent_id=agent_id, session_id=session_id))

    def stats(self, user_id: str) -> MemoryStats:
        """See :meth:`MemoryService.stats`."""
        return self._run(self.service.stats(user_id))

    def health(self) -> HealthReport:
        """See :meth:`MemoryService.health`."""
        return self._run(self.service.health())

    def close(self) -> None:
        """Close the service, then stop the loop thread. Calling it twice is harmless."""
        if not self._loop.is_closed():
            try:
                self._run(self.service.aclose())
            finally:
                _stop(self._loop, self._thread)


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()
