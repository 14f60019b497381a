"""A typed door to redis-py's ``execute_command`` (untyped upstream), for FT.* and JSON.*."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis


async def call(client: Redis, *args: Any) -> Any:
    """Send one raw command and return its (RESP2) reply."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]
