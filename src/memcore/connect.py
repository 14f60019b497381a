"""``memcore.connect()``: a ready service from settings in one line."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from memcore.service import MemoryService


class connect:  # noqa: N801 - used like a function: `await connect()` / `async with connect()`
    """Build a started :class:`~memcore.MemoryService` from settings.

    Either ``memory = await memcore.connect()`` (close it with ``await memory.aclose()``)
    or ``async with memcore.connect() as memory: ...``. Keyword arguments are settings
    that win over the environment, e.g. ``connect(store="redis", embedder="local")``.
    """

    def __init__(self, **overrides: Any) -> None:
        self._overrides = overrides
        self._service: MemoryService | None = None

    async def _open(self) -> MemoryService:
        from memcore.container import build_service  # noqa: PLC0415 - keep DI out of import time

        self._service = await build_service(**self._overrides)
        return self._service

    def __await__(self) -> Generator[Any, None, MemoryService]:
        return self._open().__await__()

    async def __aenter__(self) -> MemoryService:
        return await self._open()

    async def __aexit__(self, *exc_info: object) -> None:
        if self._service is not None:
            await self._service.aclose()
