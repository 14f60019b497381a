"""Writes whose outcome is not a plain yes or no.

A write sent to Redis whose answer never came (a timeout, a connection lost while
reading the reply) may have landed or not: :func:`write_outcome` raises
:class:`~memcore.errors.OutcomeUnknownError` with the record ids instead of a plain
failure, so a retry with the same ids (upserts are idempotent by id) ends with one copy.
A connection that could not even be opened sent nothing and stays a plain
:class:`~memcore.errors.StoreUnavailableError`.

:func:`write_errors` reads the replies of a write's round trip: the first error among
the writes (a transaction's queued commands included) is raised, and the reply of the
index check that follows them is handed back, error or not, for the store to look at.
When that check finds records written but not indexed, :func:`remove_unindexed` takes
them out again and raises: never stored-but-unsearchable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from redis import exceptions as rex
from redis.asyncio import Redis

from memcore.errors import OutcomeUnknownError, StoreError, StoreUnavailableError
from memcore_redis.commands import call
from memcore_redis.errors import BACKEND, map_redis_errors
from memcore_redis.layout import Command
from memcore_redis.query import indexed_command
from memcore_redis.redo import RedoLog
from memcore_redis.replies import text

__all__ = ["Written", "remove_unindexed", "write_errors", "write_outcome"]


@contextmanager
def write_outcome(operation: str, user_id: str, record_ids: Sequence[str]) -> Iterator[None]:
    """Map the errors of a write like :func:`~memcore_redis.errors.map_redis_errors`,
    but a write that may have landed raises :class:`OutcomeUnknownError`.
    """
    try:
        with map_redis_errors(operation, user_id):
            yield
    except StoreUnavailableError as exc:
        if not _maybe_landed(exc.__cause__):
            raise
        raise OutcomeUnknownError(
            f"{exc.message}; the write may or may not have landed: write the same records "
            "again (same ids) to make sure, it is idempotent",
            record_ids=tuple(dict.fromkeys(record_ids)),
            operation=operation,
            backend=exc.backend,
            user_id=user_id,
        ) from exc


def write_errors(replies: Sequence[Any]) -> Any:
    """Raise the first error among the writes of ``replies`` (all but the last); return
    the last reply, the index check's.
    """
    *writes, check = replies
    for reply in writes:
        for answer in reply if isinstance(reply, list) else [reply]:  # EXEC: a list
            if isinstance(answer, Exception):
                raise answer
    return check


def _maybe_landed(cause: BaseException | None) -> bool:
    """Whether the command may have run: it timed out, or the connection broke after it
    was sent (not while connecting, not a server still loading, not a read-only replica).
    """
    if isinstance(cause, rex.TimeoutError | TimeoutError):
        return True
    if isinstance(cause, rex.BusyLoadingError | rex.ReadOnlyError):
        return False
    return isinstance(cause, rex.ConnectionError | ConnectionError) and (
        "connecting to" not in str(cause)
    )


class Written(NamedTuple):
    """A whole-record write: ``writes`` (the layout's commands) of ``record_ids`` under
    ``keys``, for ``operation``; ``landed`` tells from the reply of the first command
    sent whether it wrote at all (a create-if-absent may not).
    """

    operation: str
    user_id: str
    record_ids: Sequence[str]
    keys: Sequence[str]
    writes: Sequence[Command]
    landed: Callable[[Any], bool] = lambda _: True


async def remove_unindexed(client: Redis, index: str, written: Written, redo: RedoLog) -> None:
    """Delete those of ``written.keys`` the index does not hold, then raise
    :class:`StoreError`.
    """
    keys = written.keys
    with map_redis_errors(written.operation, written.user_id):
        reply = await call(client, *indexed_command(index, keys, count_only=False))
        indexed = {text(key) for key in reply[1:]}
        failed = [key for key in keys if key not in indexed]
        if failed:
            delete = ("DEL", *failed)
            await call(client, *delete)
            redo.add([delete])
    raise StoreError(
        f"{len(failed)} of {len(keys)} records were written but RediSearch could not index "
        f"them in {index!r} (does the index still match the schema?); they were removed",
        operation=written.operation,
        backend=BACKEND,
        user_id=written.user_id,
    )
