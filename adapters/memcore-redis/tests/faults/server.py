"""A server the fault tests may kill, freeze and restart, with an AOF (``everysec``
unless told otherwise).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from memcore_redis.testing import EmbeddedRedis, free_port


class FaultServer(EmbeddedRedis):
    """An embedded server on a fixed port and data directory, so a restart finds its AOF."""

    def __init__(self, data_dir: Path, appendfsync: str = "everysec") -> None:
        aof = ("--appendonly", "yes", "--appendfsync", appendfsync)
        debug = ("--enable-debug-command", "yes")
        super().__init__(port=free_port(), data_dir=data_dir, extra_args=(*aof, *debug))
        self.data_dir = data_dir

    @property
    def aof_written(self) -> int:
        """Bytes in the AOF's current increment file (what a kill now would keep)."""
        return self._increment().stat().st_size

    def drop_aof_after(self, size: int) -> int:
        """Cut the (stopped) server's AOF increment back to ``size`` bytes, as if the
        writes after that point had been postponed by a slow disk when the server died;
        return how many bytes were dropped.
        """
        assert not self.running
        increment = self._increment()
        dropped = increment.stat().st_size - size
        with increment.open("r+b") as file:
            file.truncate(size)
        return dropped

    def _increment(self) -> Path:
        (increment,) = (self.data_dir / "appendonlydir").glob("*.incr.aof")
        return increment

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final fsync; what the AOF had is what survives."""
        assert self._process is not None
        self._process.kill()
        self._process.wait()

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)
