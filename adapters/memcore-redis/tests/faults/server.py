"""A server the fault tests may kill, freeze and restart, with AOF everysec."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from memcore_redis.testing_server import EmbeddedRedis, free_port

AOF_EVERYSEC = (
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--enable-debug-command",
    "yes",
)


class FaultServer(EmbeddedRedis):
    """An embedded server on a fixed port and data directory, so a restart finds its AOF."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(port=free_port(), data_dir=data_dir, extra_args=AOF_EVERYSEC)

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
