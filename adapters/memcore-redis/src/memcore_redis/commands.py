"""Typed doors to redis-py for raw commands (``execute_command`` is untyped upstream).

:func:`call` sends one command. :func:`round_trip` sends several in one write on one
pooled connection and reads every reply: a lean pipeline for the hot path, without the
per-command bookkeeping of redis-py's ``Pipeline`` (no transaction, no response
callbacks, raw RESP2 replies). :func:`read_reply` reads one reply off a connection.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.exceptions import ResponseError

if sys.version_info >= (3, 11):
    from asyncio import timeout as _timeout
else:  # redis-py depends on async-timeout there (untyped: not installed on newer Pythons)
    from async_timeout import timeout as _timeout  # type: ignore[import-not-found,unused-ignore]


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

    Leaner than redis-py's own send and read: an upsert's five replies cost 138 µs of
    client CPU through them and 60 here. The bytes go to the connection's stream writer
    at once (redis-py wraps each send in ``asyncio.wait_for``, a task per call), and the
    replies are read under one ``socket_timeout``, not one each. This reaches into
    redis-py's ``Connection`` (its ``_writer`` and ``_parser``, in :func:`send_packed`
    and :func:`next_reply`); every Redis test goes through it.
    """
    pool = client.connection_pool
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        await connection.check_health()  # a PING if the connection idled too long
        send_packed(
            connection, b"".join([hiredis.pack_command(tuple(command)) for command in commands])
        )
        async with _timeout(connection.socket_timeout):
            replies = [await next_reply(connection) for _ in commands]
    except BaseException:
        await connection.disconnect()
        raise
    finally:
        await pool.release(connection)
    for reply in replies:
        if raise_errors and isinstance(reply, ResponseError):
            raise reply
    return replies


def send_packed(connection: Any, packed: bytes) -> None:
    """Hand ``packed`` to the connection's stream writer: no task and no timeout of its
    own (the read of the replies has one).
    """
    connection._writer.write(packed)  # noqa: SLF001 - see round_trip


async def next_reply(connection: Any) -> Any:
    """The next reply off the connection's parser; an error reply is returned, not raised."""
    try:
        return await connection._parser.read_response()  # noqa: SLF001 - see round_trip
    except ResponseError as error:
        return error


async def read_reply(connection: Any) -> Any:
    """The next reply; an error reply is returned, not raised."""
    try:
        return await connection.read_response()
    except ResponseError as error:
        return error
