"""Where wrapped per-user data keys live: in memory (tests) or in a local JSON file.

Both hold only *wrapped* keys (useless without the master key). The file store keeps a
private (``0600``) JSON object ``{user_id: wrapped key}`` and replaces it atomically on
every change (temporary file, fsync, rename), so a crash leaves the old or the new
file, never half of one. It suits one process per file; processes that share users
share ``memcore_redis.keystore.RedisDataKeyStore`` instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

from memcore.errors import ConfigurationError
from memcore.security.keyring import WrappedKey

__all__ = ["FileDataKeyStore", "InMemoryDataKeyStore"]


class InMemoryDataKeyStore:
    """Wrapped keys in a dict; gone when the process ends."""

    def __init__(self) -> None:
        self.keys: dict[str, WrappedKey] = {}

    async def load(self, user_id: str) -> WrappedKey | None:
        return self.keys.get(user_id)

    async def add(self, user_id: str, key: WrappedKey) -> WrappedKey:
        return self.keys.setdefault(user_id, key)

    async def replace(self, user_id: str, old: WrappedKey, new: WrappedKey) -> bool:
        if self.keys.get(user_id) != old:
            return False
        self.keys[user_id] = new
        return True

    async def erase(self, user_id: str) -> bool:
        return self.keys.pop(user_id, None) is not None

    async def aclose(self) -> None:
        return None


class FileDataKeyStore(InMemoryDataKeyStore):
    """Wrapped keys in the JSON file ``path``, read on first use, rewritten on each change."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)
        self._loaded = False
        self._lock = asyncio.Lock()

    async def load(self, user_id: str) -> WrappedKey | None:
        async with self._lock:
            self._read()
            return await super().load(user_id)

    async def add(self, user_id: str, key: WrappedKey) -> WrappedKey:
        async with self._lock:
            self._read()
            kept = await super().add(user_id, key)
            if kept is key:
                await asyncio.to_thread(self._write, dict(self.keys))
            return kept

    async def replace(self, user_id: str, old: WrappedKey, new: WrappedKey) -> bool:
        async with self._lock:
            self._read()
            swapped = await super().replace(user_id, old, new)
            if swapped:
                await asyncio.to_thread(self._write, dict(self.keys))
            return swapped

    async def erase(self, user_id: str) -> bool:
        async with self._lock:
            self._read()
            erased = await super().erase(user_id)
            if erased:
                await asyncio.to_thread(self._write, dict(self.keys))
            return erased

    def _read(self) -> None:
        if self._loaded:
            return
        try:
            raw = json.loads(self.path.read_text("utf-8")) if self.path.exists() else {}
            self.keys = {user: WrappedKey.from_json(item) for user, item in raw.items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"cannot read the data key file {self.path}: {type(exc).__name__}",
                setting="MEMCORE_ENCRYPTION__DATA_KEY_FILE",
            ) from exc
        self._loaded = True

    def _write(self, keys: dict[str, WrappedKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({user: key.to_json() for user, key in keys.items()})
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp files are 0600
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp).replace(self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
