"""Typed doors to redis-py for raw commands (``execute_command`` is untyped upstream).

:func:`call` sends one command. :func:`round_trip` sends several in one write on one
pooled connection and reads every reply: a lean pipeline for the hot path, without the
per-command bookkeeping of redis-py's ``Pipeline`` (no transaction, no response
callbacks, raw RESP2 replies). :func:`read_reply` reads one reply off a connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.exceptions import ResponseError


async def call(client: Redis, *args: Any) -> Any:
    """Send one raw command and return its (RESP2) reply."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


async def round_trip(
    client: Redis, commands: Sequence[Sequence[Any]], *, raise_errors: bool = True
) -> list[Any]:
    """Send ``commands`` in one write and return their replies, in order.

    Every reply is read before the first error reply is raised (or, with ``raise_errors``
    off, returned in its place), so the connection stays in step; a connection that
    failed or was cancelled mid-way is dropped, not reused.
    """
    pool = client.connection_pool
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        packed = b"".join([hiredis.pack_command(tuple(command)) for command in commands])
        await connection.send_packed_command(packed)
        replies = [await read_reply(connection) for _ in commands]
    except BaseException:
        await connection.disconnect()
        raise
    finally:
        await pool.release(connection)
    for reply in replies:
        if raise_errors and isinstance(reply, ResponseError):
            raise reply
    return replies


async def read_reply(connection: Any) -> Any:
    """The next reply; an error reply is returned, not raised."""
    try:
        return await connection.read_response()
    except ResponseError as error:
        return error
