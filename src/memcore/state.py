"""Where memcore keeps its own state on this machine: the one directory for every file
a process must find again after a crash (the durable outbox, the CLI's snapshot, the
last data epoch each store saw).

It is ``MEMCORE_STATE_DIR`` when set, else the platform's per-user state directory
(``~/.local/state/memcore`` on Linux, ``~/Library/Application Support/memcore`` on
macOS, ``%LOCALAPPDATA%/memcore`` on Windows), as :mod:`platformdirs` gives it.
Nothing is created until a file is first written there.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import platformdirs

__all__ = ["default_state_dir", "target_dir"]

APP_NAME = "memcore"


def default_state_dir() -> Path:
    """The platform's per-user state directory for memcore (not created)."""
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def target_dir(state_dir: Path, kind: str, target: str) -> Path:
    """A subdirectory of ``state_dir`` for one store ``target`` (a redacted address).

    Two services pointed at different stores never share an outbox or an epoch file; the
    name is readable (``outbox/redis-1a2b3c4d5e6f``) and never holds a credential.
    """
    backend = target.partition(":")[0] or "store"
    digest = hashlib.sha256(target.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return state_dir / kind / f"{backend}-{digest}"
