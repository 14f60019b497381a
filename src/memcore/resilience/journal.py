"""The outbox on disk: one append-only journal file per process, in one directory.

A process writes its deferred store calls to ``<directory>/<random>.jsonl`` while holding
an exclusive lock on ``<same>.jsonl.lock`` (:mod:`filelock`; the operating system drops
it when the process dies, even by ``kill -9``; the lock is not thread-local, since the
journal is written from worker threads). Any process may adopt a journal whose
lock it can take: its owner is gone, and its calls were never replayed. So a CLI call,
a job or a serverless function that deferred a write and exited leaves it for the next
process that uses the same store.

A line is a call (``{"seq", "op", "user_id", "args"}``, fsynced before the write is
acknowledged) or ``{"done": seq}`` once it was replayed or dropped. A journal is
emptied when its last call is done, and deleted when it was adopted or its owner closes.
Arguments are JSON: records in their codec form, vectors as base64 float32 rows,
tuples as lists.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from memcore.domain import Intervention, Reflection
from memcore.domain.codec import record_from_dict, record_to_dict
from memcore.errors import ConfigurationError
from memcore.pipeline.call import Call

__all__ = ["Journal", "decode_args", "encode_args"]

logger = logging.getLogger("memcore.outbox")

_SUFFIX = ".jsonl"
_SETTING = "MEMCORE_DEGRADATION__OUTBOX_PATH"


def encode_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """``args`` of a store call as JSON values; :func:`decode_args` inverts it."""
    return {name: _encode(value) for name, value in args.items()}


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        rows = np.ascontiguousarray(value, dtype="<f4")
        return {"$vectors": base64.b64encode(rows.tobytes()).decode(), "shape": rows.shape}
    if (
        isinstance(value, (list, tuple))
        and value
        and isinstance(value[0], (Intervention, Reflection))
    ):
        return {"$records": [record_to_dict(record) for record in value]}
    if isinstance(value, (list, tuple)):
        return list(value)
    return value


def decode_args(data: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`encode_args`."""
    return {name: _decode(value) for name, value in data.items()}


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "$vectors" in value:
        flat = np.frombuffer(base64.b64decode(value["$vectors"]), dtype="<f4")
        return np.ascontiguousarray(flat.reshape(value["shape"]), dtype=np.float32)
    return [record_from_dict(item) for item in value["$records"]]


class Journal:
    """One journal file and its lock; see the module docstring."""

    def __init__(self, path: Path, lock: FileLock) -> None:
        self.path = path
        self._lock = lock
        self._fd: int | None = None

    @classmethod
    def create(cls, directory: Path) -> Journal:
        """A new journal of this process in ``directory``, locked."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / f"{uuid.uuid4().hex}{_SUFFIX}"
        lock = FileLock(f"{path}.lock", timeout=0, thread_local=False)
        lock.acquire()
        return cls(path, lock)

    @classmethod
    def orphans(cls, directory: Path, mine: Sequence[Path]) -> Iterator[Journal]:
        """The journals in ``directory`` no live process holds, each locked for us."""
        if not directory.is_dir():
            return
        for path in sorted(directory.glob(f"*{_SUFFIX}"), key=_age):
            if path in mine:
                continue
            lock = FileLock(f"{path}.lock", timeout=0, thread_local=False)
            try:
                lock.acquire()
            except Timeout:
                continue  # its owner is alive and replays it itself
            if path.exists():  # not deleted by whoever held the lock before us
                yield cls(path, lock)
            else:
                lock.release()

    def load(self) -> list[tuple[int, Call]]:
        """The calls not yet done, in order (a cut-off last line was never acknowledged)."""
        raw = self.path.read_bytes()
        complete = raw.rfind(b"\n") + 1
        if complete < len(raw):
            logger.warning("outbox journal %s ends with a partial line; ignored", self.path)
        pending: dict[int, Call] = {}
        for number, line in enumerate(raw[:complete].splitlines(), start=1):
            try:
                data = json.loads(line)
                if "done" in data:
                    pending.pop(int(data["done"]), None)
                    continue
                call = Call("store", data["op"], data["user_id"], decode_args(data["args"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigurationError(
                    f"outbox journal {self.path} is corrupt at line {number}", setting=_SETTING
                ) from exc
            pending[int(data["seq"])] = call
        return sorted(pending.items())

    def append(self, seq: int, call: Call) -> None:
        """Write ``call`` as entry ``seq`` and sync it to disk."""
        line = {"seq": seq, "op": call.operation, "user_id": call.user_id}
        line["args"] = encode_args(call.args)
        self._write(json.dumps(line, ensure_ascii=True), sync=True)

    def done(self, seq: int) -> None:
        """Mark entry ``seq`` done (not synced: a lost mark only means a replay again)."""
        self._write(json.dumps({"done": seq}), sync=False)

    def empty(self) -> None:
        """Drop every line: nothing in it is pending."""
        fd = self._open()
        os.ftruncate(fd, 0)
        os.fsync(fd)

    def close(self, *, delete: bool) -> None:
        """Close the file (deleting it first when ``delete``) and release the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if delete:
            self.path.unlink(missing_ok=True)
        self._lock.release()

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def _write(self, line: str, *, sync: bool) -> None:
        fd = self._open()
        os.write(fd, (line + "\n").encode("ascii"))
        if sync:
            os.fsync(fd)


def _age(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
