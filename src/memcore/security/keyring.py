"""Encryption keys: the master keyring and optional per-user data keys.

**Master keys** come from settings as base64 32-byte AES keys under short ids
(``MEMCORE_ENCRYPTION__KEYS='{"k2026a": "..."}'``); the *primary* one encrypts, every
listed one decrypts, and a key removed from the list is retired: what it encrypted can
no longer be read (re-encrypt first with ``memcore rotate-key``).

**Per-user data keys** (envelope encryption): each user gets a random AES-256 key, kept
only *wrapped* (encrypted by a master key, bound to the user id) in a
:class:`DataKeyStore`. Erasing a user's data key makes every copy of their ciphertext
unreadable, backups included: crypto-shredding. Rotating the master key then only
re-wraps data keys.

A :class:`KeySource` hands :class:`~memcore.security.encryption.EncryptionPolicy` the key
to write with and the key named by a ciphertext's key id: :class:`MasterKeys` or
:class:`UserDataKeys`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

from memcore.errors import ConfigurationError, DecryptionError

__all__ = [
    "DataKeyStore",
    "KeySource",
    "Keyring",
    "MasterKeys",
    "UserDataKeys",
    "WrappedKey",
    "generate_key",
]

KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def generate_key() -> str:
    """A new random AES-256 key, base64-encoded as settings expect it."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def aad(*parts: str) -> bytes:
    """Associated data: an unambiguous encoding of ``parts`` (JSON, so ``|`` in ids is safe)."""
    return json.dumps(parts, ensure_ascii=False).encode("utf-8", "surrogatepass")


class Keyring:
    """Master keys by id; ``primary`` encrypts, all of them decrypt."""

    def __init__(self, keys: Mapping[str, bytes], primary: str) -> None:
        if not keys:
            raise ConfigurationError("no encryption key given", setting="MEMCORE_ENCRYPTION__KEYS")
        for key_id, key in keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise ConfigurationError(
                    f"key id {key_id!r} must be 1-32 characters of A-Z a-z 0-9 _ -",
                    setting="MEMCORE_ENCRYPTION__KEYS",
                )
            if len(key) != KEY_BYTES:
                raise ConfigurationError(
                    f"key {key_id!r} must be {KEY_BYTES} bytes", setting="MEMCORE_ENCRYPTION__KEYS"
                )
        if primary not in keys:
            raise ConfigurationError(
                f"primary key {primary!r} is not among the keys",
                setting="MEMCORE_ENCRYPTION__PRIMARY_KEY",
            )
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.primary = primary

    @classmethod
    def from_secrets(cls, keys: Mapping[str, SecretStr], primary: str) -> Keyring:
        """Build from base64 keys as settings hold them (``SecretStr``, never logged)."""
        return cls({key_id: _b64_key(key_id, secret) for key_id, secret in keys.items()}, primary)

    @property
    def key_ids(self) -> frozenset[str]:
        """Every id that can decrypt."""
        return frozenset(self._ciphers)

    def cipher(self, key_id: str) -> AESGCM:
        """The cipher of ``key_id``; an unknown (retired) id raises DecryptionError."""
        try:
            return self._ciphers[key_id]
        except KeyError:
            raise DecryptionError(f"key {key_id!r} is not in the keyring (retired?)") from None

    def __repr__(self) -> str:
        return f"Keyring(primary={self.primary!r}, key_ids={sorted(self._ciphers)!r})"


@runtime_checkable
class KeySource(Protocol):
    """Which key encrypts a user's new data, and which key a stored key id names."""

    async def for_write(self, user_id: str) -> tuple[str, AESGCM]:
        """``(key id, cipher)`` to encrypt ``user_id``'s data with now."""
        ...

    async def for_read(self, user_id: str, key_id: str) -> AESGCM:
        """The cipher for ``user_id``'s data under ``key_id``; DecryptionError if it is gone."""
        ...

    async def rewrap(self, user_id: str) -> bool:
        """Move ``user_id``'s key material under the primary master key; True if it changed."""
        ...

    async def erase(self, user_id: str) -> bool:
        """Forget ``user_id``'s own key, if any (crypto-shredding); True if there was one."""
        ...

    async def aclose(self) -> None:
        """Release the key store, if any. Calling it twice is harmless."""
        ...


class MasterKeys:
    """Every user's data under the primary master key (no per-user keys)."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    async def for_write(self, user_id: str) -> tuple[str, AESGCM]:  # noqa: ARG002 - one key for all
        return self.keyring.primary, self.keyring.cipher(self.keyring.primary)

    async def for_read(self, user_id: str, key_id: str) -> AESGCM:  # noqa: ARG002
        return self.keyring.cipher(key_id)

    async def rewrap(self, user_id: str) -> bool:  # noqa: ARG002 - nothing is wrapped
        return False

    async def erase(self, user_id: str) -> bool:  # noqa: ARG002 - no per-user key to erase
        return False

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class WrappedKey:
    """A user's data key ``key_id``, encrypted by master key ``master_id``."""

    key_id: str
    master_id: str
    sealed: bytes

    def to_json(self) -> dict[str, str]:
        """A JSON-ready form."""
        return {
            "key_id": self.key_id,
            "master_id": self.master_id,
            "sealed": base64.b64encode(self.sealed).decode(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> WrappedKey:
        """Inverse of :meth:`to_json`."""
        return cls(data["key_id"], data["master_id"], base64.b64decode(data["sealed"]))


@runtime_checkable
class DataKeyStore(Protocol):
    """Where wrapped per-user data keys live (see :mod:`memcore.security.keystores`)."""

    async def load(self, user_id: str) -> WrappedKey | None:
        """The wrapped key of ``user_id``, or ``None``."""
        ...

    async def add(self, user_id: str, key: WrappedKey) -> WrappedKey:
        """Store ``key`` unless ``user_id`` has one; return the one kept (first writer wins)."""
        ...

    async def replace(self, user_id: str, old: WrappedKey, new: WrappedKey) -> bool:
        """Swap ``old`` for ``new`` if ``old`` is still stored; True if swapped."""
        ...

    async def erase(self, user_id: str) -> bool:
        """Delete ``user_id``'s key; True if there was one."""
        ...

    async def aclose(self) -> None:
        """Release resources. Calling it twice is harmless."""
        ...


class UserDataKeys:
    """One data key per user, wrapped by the master keyring and kept in ``store``.

    Unwrapped keys are cached in this process; erasing a key here drops it from this
    cache at once (another process drops it when it restarts or rebuilds its store).
    """

    def __init__(self, keyring: Keyring, store: DataKeyStore) -> None:
        self.keyring = keyring
        self.store = store
        self._cache: dict[str, tuple[str, AESGCM]] = {}

    async def for_write(self, user_id: str) -> tuple[str, AESGCM]:
        cached = self._cache.get(user_id) or await self._load(user_id)
        if cached is not None:
            return cached
        key_id = secrets.token_hex(8)
        key = secrets.token_bytes(KEY_BYTES)
        kept = await self.store.add(user_id, self._wrap(user_id, key_id, key))
        return self._remember(user_id, kept)

    async def for_read(self, user_id: str, key_id: str) -> AESGCM:
        cached = self._cache.get(user_id) or await self._load(user_id)
        if cached is not None and cached[0] == key_id:
            return cached[1]
        if key_id in self.keyring.key_ids:
            return self.keyring.cipher(key_id)  # written before per-user keys were enabled
        raise DecryptionError(
            "the data key of this ciphertext is erased or unknown", user_id=user_id
        )

    async def rewrap(self, user_id: str) -> bool:
        wrapped = await self.store.load(user_id)
        if wrapped is None or wrapped.master_id == self.keyring.primary:
            return False
        key = self._unwrap(user_id, wrapped)
        return await self.store.replace(user_id, wrapped, self._wrap(user_id, wrapped.key_id, key))

    async def erase(self, user_id: str) -> bool:
        self._cache.pop(user_id, None)
        return await self.store.erase(user_id)

    async def aclose(self) -> None:
        await self.store.aclose()

    async def _load(self, user_id: str) -> tuple[str, AESGCM] | None:
        wrapped = await self.store.load(user_id)
        return None if wrapped is None else self._remember(user_id, wrapped)

    def _remember(self, user_id: str, wrapped: WrappedKey) -> tuple[str, AESGCM]:
        entry = (wrapped.key_id, AESGCM(self._unwrap(user_id, wrapped)))
        self._cache[user_id] = entry
        return entry

    def _wrap(self, user_id: str, key_id: str, key: bytes) -> WrappedKey:
        master = self.keyring.primary
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keyring.cipher(master).encrypt(nonce, key, _wrap_aad(user_id, key_id, master))
        return WrappedKey(key_id=key_id, master_id=master, sealed=nonce + sealed)

    def _unwrap(self, user_id: str, wrapped: WrappedKey) -> bytes:
        cipher = self.keyring.cipher(wrapped.master_id)
        nonce, sealed = wrapped.sealed[:NONCE_BYTES], wrapped.sealed[NONCE_BYTES:]
        try:
            return cipher.decrypt(
                nonce, sealed, _wrap_aad(user_id, wrapped.key_id, wrapped.master_id)
            )
        except InvalidTag:
            raise DecryptionError(
                "the data key does not belong to this user", user_id=user_id
            ) from None


def _b64_key(key_id: str, secret: SecretStr) -> bytes:
    try:
        return base64.b64decode(secret.get_secret_value(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"key {key_id!r} is not valid base64", setting="MEMCORE_ENCRYPTION__KEYS"
        ) from None


def _wrap_aad(user_id: str, key_id: str, master_id: str) -> bytes:
    return aad("memcore-data-key/v1", user_id, key_id, master_id)
