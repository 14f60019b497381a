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

    Leaner than redis-py's own send and read, which cost a write's five replies 138 µs of
    client CPU against 60 here (``benchmarks/bench_round_trip.py``): the bytes go to the
    connection's stream writer at once (redis-py wraps each send in ``asyncio.wait_for``,
    a task per call), and the replies are read under one ``socket_timeout``, not one
    each. This reaches into redis-py's ``Connection`` (its ``_writer`` and ``_parser``,
    there since 4.2); ``tests/test_writes.py`` runs it on every supported redis-py.
    """
    pool = client.connection_pool
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        await connection.check_health()  # a PING if the connection idled too long
        connection._writer.write(  # noqa: SLF001 - see above
            b"".join([hiredis.pack_command(tuple(command)) for command in commands])
        )
        parser = connection._parser  # noqa: SLF001
        async with _timeout(connection.socket_timeout):
            replies = [await _next_reply(parser) for _ in commands]
    except BaseException:
        await connection.disconnect()
        raise
    finally:
        await pool.release(connection)
    for reply in replies:
        if raise_errors and isinstance(reply, ResponseError):
            raise reply
    return replies


async def _next_reply(parser: Any) -> Any:
    try:
        return await parser.read_response()
    except ResponseError as error:
        return error


async def read_reply(connection: Any) -> Any:
    """The next reply; an error reply is returned, not raised."""
    try:
        return await connection.read_response()
    except ResponseError as error:
        return error
