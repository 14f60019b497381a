"""Encryption of sensitive text at rest: a pipeline layer using AES-256-GCM.

:class:`EncryptionPolicy` encrypts, before the store below it sees them, every text field
the field table marks ``sensitive`` (an intervention's ``intervention_text`` and
``context``, a reflection's ``text``) and every metadata value except those under the
keys named in ``filterable_metadata``. Each value becomes one
string token::

    mcenc:v1:<key id>:<base64url(12-byte nonce + ciphertext + 16-byte tag)>

The key id says which key decrypts it. The associated data binds the token to its user
id, record id, field (``metadata.<key>`` for metadata) and key id, so a token copied to
another user, record or field fails with :class:`~memcore.errors.DecryptionError`.
Metadata values keep their type (they are sealed as JSON).

What stays in clear, because the backend must filter or rank on it: ids, ``task``,
``outcome``, ``created_at``, ``source_ids``, metadata keys, the values of
``filterable_metadata``, and the embeddings (see ``docs/security.md`` for what those
reveal). Filtering on an encrypted metadata key raises
:class:`~memcore.errors.ValidationError`: it could never match.

Values without the ``mcenc:v1:`` prefix are read as they are (plaintext written before
encryption was enabled); :meth:`EncryptionPolicy.rotate` encrypts them.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from memcore.domain import (
    MemoryRecord,
    MetadataValue,
    RecordUpdate,
    SearchFilter,
    SearchHit,
    SearchResults,
)
from memcore.domain.fields import Value, fields_of
from memcore.domain.records import RECORD_TYPES
from memcore.errors import DecryptionError, ValidationError
from memcore.pipeline.call import Call, Handler, Policy, Port, Result
from memcore.security.keyring import NONCE_BYTES, KeySource, aad

__all__ = ["TOKEN_PREFIX", "EncryptionPolicy", "RotationReport"]

TOKEN_PREFIX = "mcenc:v1:"  # noqa: S105 - a format marker, not a secret

logger = logging.getLogger("memcore.encryption")

_FieldFn = Callable[[str, str], str]


@dataclass(frozen=True)
class RotationReport:
    """What :meth:`EncryptionPolicy.rotate` did."""

    users: int = 0
    scanned: int = 0
    rewritten: int = 0
    keys_rewrapped: int = 0


class EncryptionPolicy(Policy):
    """The pipeline layer that keeps memory content encrypted in the store below it."""

    name = "encryption"
    ports = frozenset({"store"})
    operations = frozenset(
        {"upsert", "update", "get", "get_with_vectors", "search", "list", "count", "forget_user"}
    )

    def __init__(self, keys: KeySource, *, filterable_metadata: Collection[str] = ()) -> None:
        self.keys = keys
        self.filterable_metadata = frozenset(filterable_metadata)
        self._below: Handler | None = None

    def bind(self, port: Port, below: Handler) -> None:
        del port
        self._below = below

    async def __call__(self, call: Call, proceed: Handler) -> Result[Any]:
        operation = call.operation
        if operation == "upsert":
            sealed = [await self._seal(record) for record in call.args["records"]]
            return await proceed(call.with_args(records=sealed))
        if operation == "update":
            update = await self._seal_update(call.user_id or "", call.args["update"])
            done = await proceed(call.with_args(update=update))
            record = None if done.value is None else await self._open(done.value)
            return Result(record, done.status)
        if "filters" in call.args:
            self._check(call.args["filters"], operation)
        result = await proceed(call)
        value = result.value
        if operation == "forget_user":  # then erase their data key (when keys are per user)
            await self.keys.erase(call.user_id or "")
            return result
        if operation == "get":
            value = [await self._open(record) for record in value]
        elif operation == "get_with_vectors":
            value = ([await self._open(record) for record in value[0]], value[1])
        elif operation == "search":
            opened = [SearchHit(await self._open(hit.record), hit.score) for hit in value]
            value = SearchResults(opened, status=result.status)
        elif operation == "list":
            items = tuple([await self._open(record) for record in value.items])
            value = dataclasses.replace(value, items=items)
        return Result(value, result.status)

    async def aclose(self) -> None:
        await self.keys.aclose()

    def describe(self) -> str:
        clear = ", ".join(sorted(self.filterable_metadata)) or "none"
        return f"encryption (AES-256-GCM; metadata kept in clear: {clear})"

    async def shred(self, user_id: str) -> bool:
        """Erase only ``user_id``'s data key: every copy of their ciphertext, backups
        included, becomes unreadable. True if there was a per-user key.
        """
        return await self.keys.erase(user_id)

    async def rotate(
        self,
        user_id: str | None = None,
        *,
        batch_size: int = 100,
        progress: Callable[[int], None] | None = None,
    ) -> RotationReport:
        """Re-encrypt ``user_id``'s records (everyone's if ``None``) under the current key.

        Per-user data keys are first re-wrapped under the primary master key. Records
        are read ``batch_size`` at a time and only those holding a token of another key
        (or plaintext) are rewritten, whole, with their stored vectors; so a second run
        rewrites nothing. A record changed by the application between a batch's read
        and its write would get the batch's older copy back: rotate while such rewrites
        of one record id are paused (new records are always safe). ``progress`` is called
        with the number of records each batch scanned.
        """
        users = [user_id] if user_id is not None else await self._below_value("user_ids", None)
        report = RotationReport()
        for user in users:
            rewrapped = await self.keys.rewrap(user)
            scanned, rewritten = await self._rotate_user(user, batch_size, progress)
            report = RotationReport(
                users=report.users + 1,
                scanned=report.scanned + scanned,
                rewritten=report.rewritten + rewritten,
                keys_rewrapped=report.keys_rewrapped + rewrapped,
            )
        logger.info("rotation done", extra={"rotation": dataclasses.asdict(report)})
        return report

    async def _rotate_user(
        self, user_id: str, batch_size: int, progress: Callable[[int], None] | None
    ) -> tuple[int, int]:
        current, _ = await self.keys.for_write(user_id)
        scanned = rewritten = 0
        cursor: str | None = None
        while True:
            page = await self._below_value(
                "list", user_id, filters=SearchFilter(), limit=batch_size, cursor=cursor
            )
            scanned += len(page.items)
            stale = [r.id for r in page.items if _needs_rotation(r, current, self._sealed_fields)]
            if stale:
                records, vectors = await self._below_value("get_with_vectors", user_id, ids=stale)
                fresh = [await self._seal(await self._open(record)) for record in records]
                await self._below_value("upsert", user_id, records=fresh, vectors=vectors)
                rewritten += len(fresh)
            if progress is not None:
                progress(len(page.items))
            cursor = page.next_cursor
            if cursor is None:
                return scanned, rewritten

    def _check(self, filters: SearchFilter, operation: str) -> SearchFilter:
        for key in filters.metadata:
            if key not in self.filterable_metadata:
                raise ValidationError(
                    f"filters.metadata.{key}",
                    "is stored encrypted and cannot be filtered on; list it in "
                    "MEMCORE_ENCRYPTION__FILTERABLE_METADATA to keep it in clear",
                    operation=operation,
                )
        return filters

    async def _below_value(self, operation: str, user_id: str | None, **args: Any) -> Any:
        """A call to the store below this layer (it holds and answers ciphertext)."""
        if self._below is None:
            raise RuntimeError("the encryption policy is not part of a pipeline")
        return (await self._below(Call("store", operation, user_id, args))).value

    def _sealed_fields(self, record: MemoryRecord) -> dict[str, object]:
        """Every field this layer encrypts, by AAD field name, with its stored value."""
        fields: dict[str, object] = {
            name: getattr(record, name) for name in _sealed_texts(type(record))
        }
        for key, value in record.metadata.items():
            if key not in self.filterable_metadata:
                fields[f"metadata.{key}"] = value
        return fields

    async def _sealer(self, user_id: str, record_id: str) -> _FieldFn:
        """What seals one field of ``user_id``'s record ``record_id`` under the current key."""
        key_id, cipher = await self.keys.for_write(user_id)

        def seal(field: str, value: str) -> str:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, _utf8(value), _aad(user_id, record_id, field, key_id))
            return f"{TOKEN_PREFIX}{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

        return seal

    async def _seal(self, record: MemoryRecord) -> MemoryRecord:
        seal = await self._sealer(record.user_id, record.id)
        return _transform(record, self.filterable_metadata, seal, json.dumps)

    async def _seal_update(self, user_id: str, update: RecordUpdate) -> RecordUpdate:
        """``update`` with the values it sets (and the record it may create) sealed as
        :meth:`_seal` seals a record's.
        """
        seal = await self._sealer(user_id, update.id)
        values = dict(update.values)
        for name in _SEALED_TEXTS.intersection(values):
            values[name] = seal(name, values[name])
        if "metadata" in values:
            values["metadata"] = {
                key: value if key in self.filterable_metadata else
                seal(f"metadata.{key}", json.dumps(value))
                for key, value in values["metadata"].items()
            }  # fmt: skip
        create = None if update.create is None else await self._seal(update.create)
        return dataclasses.replace(update, values=values, create=create)

    async def _open(self, record: MemoryRecord) -> MemoryRecord:
        ciphers: dict[str, AESGCM] = {}
        for value in self._sealed_fields(record).values():
            if isinstance(value, str) and value.startswith(TOKEN_PREFIX):
                key_id = value[len(TOKEN_PREFIX) :].partition(":")[0]
                if key_id not in ciphers:
                    ciphers[key_id] = await self.keys.for_read(record.user_id, key_id)

        def open_(field: str, value: str) -> str:
            if not value.startswith(TOKEN_PREFIX):
                return value  # plaintext from before encryption was enabled
            key_id, _, body = value[len(TOKEN_PREFIX) :].partition(":")
            try:
                raw = base64.b64decode(body, altchars=b"-_", validate=True)
                plain = ciphers[key_id].decrypt(
                    raw[:NONCE_BYTES],
                    raw[NONCE_BYTES:],
                    _aad(record.user_id, record.id, field, key_id),
                )
            except (InvalidTag, ValueError, binascii.Error) as exc:
                raise DecryptionError(
                    f"cannot decrypt field {field!r} of record {record.id!r}",
                    operation="decrypt",
                    user_id=record.user_id,
                ) from exc
            return plain.decode("utf-8", "surrogatepass")

        return _transform(record, self.filterable_metadata, open_, None)


def _transform(
    record: MemoryRecord,
    clear_keys: frozenset[str],
    text: _FieldFn,
    encode_metadata: Callable[[MetadataValue], str] | None,
) -> MemoryRecord:
    """Apply ``text(field, value)`` to every sealed field of ``record``.

    Sealing passes ``encode_metadata`` (JSON) to turn any metadata value into text first;
    opening passes ``None`` and decodes the JSON of each value it opened.
    """
    metadata: dict[str, MetadataValue] = {}
    for key, value in record.metadata.items():
        if key in clear_keys:
            metadata[key] = value
        elif encode_metadata is not None:
            metadata[key] = text(f"metadata.{key}", encode_metadata(value))
        elif isinstance(value, str) and value.startswith(TOKEN_PREFIX):
            metadata[key] = json.loads(text(f"metadata.{key}", value))
        else:
            metadata[key] = value  # plaintext from before encryption was enabled
    changed: dict[str, Any] = {
        name: text(name, getattr(record, name)) for name in _sealed_texts(type(record))
    }
    return dataclasses.replace(record, **changed, metadata=metadata)


def _sealed_texts(record_type: type) -> tuple[str, ...]:
    """The sensitive text fields of a record type, from the field table."""
    return tuple(
        spec.name
        for spec in fields_of(record_type)
        if spec.about.sensitive and spec.about.value is Value.TEXT
    )


_SEALED_TEXTS = frozenset(
    name for record_type in RECORD_TYPES.values() for name in _sealed_texts(record_type)
)


def _needs_rotation(
    record: MemoryRecord, key_id: str, fields: Callable[[MemoryRecord], Mapping[str, object]]
) -> bool:
    token = f"{TOKEN_PREFIX}{key_id}:"
    return any(not (isinstance(v, str) and v.startswith(token)) for v in fields(record).values())


def _aad(user_id: str, record_id: str, field: str, key_id: str) -> bytes:
    return aad("memcore-field/v1", user_id, record_id, field, key_id)


def _utf8(value: str) -> bytes:
    # surrogatepass: lone surrogates are valid Python text and must round-trip, not raise.
    return value.encode("utf-8", "surrogatepass")
