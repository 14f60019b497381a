from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from memcore.adapters.memory import InMemoryStore
from memcore.domain import (
    Intervention,
    RecordKind,
    RecordUpdate,
    Reflection,
    SearchFilter,
    utcnow,
)
from memcore.errors import (
    ConfigurationError,
    DecryptionError,
    StoreUnavailableError,
    ValidationError,
)
from memcore.pipeline import Pipeline, StoreFront
from memcore.ports import MemoryStore
from memcore.resilience import DegradationPolicy, Outbox
from memcore.security.encryption import TOKEN_PREFIX, EncryptionPolicy, RotationReport
from memcore.security.keyring import (
    Keyring,
    KeySource,
    MasterKeys,
    UserDataKeys,
    generate_key,
)
from memcore.security.keystores import FileDataKeyStore, InMemoryDataKeyStore
from memcore.testing import SCHEMA, StoreContract, unit_vectors
from memcore.testing._suite import intervention, reflection

# The contract filters on these metadata keys; everything else it writes is encrypted.
FILTERED = ("lang", "n", "confidence", "old")
K1, K2 = b"1" * 32, b"2" * 32


def journals(directory: Path) -> list[Path]:
    """The outbox journals in ``directory``."""
    return sorted(directory.glob("*.jsonl"))


class Encrypted(StoreFront):
    """``inner`` behind an encryption policy alone (and others below it, if given)."""

    def __init__(
        self,
        inner: MemoryStore,
        keys: KeySource,
        *,
        filterable_metadata: tuple[str, ...] | list[str] = (),
        below: tuple[DegradationPolicy, ...] = (),
    ) -> None:
        self.policy = EncryptionPolicy(keys, filterable_metadata=filterable_metadata)
        super().__init__(inner, Pipeline([self.policy, *below]))

    async def rotate(
        self,
        user_id: str | None = None,
        *,
        batch_size: int = 100,
        progress: Callable[[int], None] | None = None,
    ) -> RotationReport:
        return await self.policy.rotate(user_id, batch_size=batch_size, progress=progress)

    async def shred(self, user_id: str) -> bool:
        return await self.policy.shred(user_id)


def keyring(**keys: bytes) -> Keyring:
    return Keyring(keys, primary=list(keys)[-1])


class TestEncryptedWithMasterKeys(StoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        store = Encrypted(InMemoryStore(), MasterKeys(keyring(k1=K1)), filterable_metadata=FILTERED)
        yield store
        await store.aclose()


class TestEncryptedWithUserKeys(StoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        keys = UserDataKeys(keyring(k1=K1), InMemoryDataKeyStore())
        store = Encrypted(InMemoryStore(), keys, filterable_metadata=FILTERED)
        yield store
        await store.aclose()


@pytest.fixture
async def inner() -> InMemoryStore:
    store = InMemoryStore()
    await store.ensure_schema(SCHEMA)
    return store


def encrypting(inner: MemoryStore, ring: Keyring | None = None) -> Encrypted:
    return Encrypted(inner, MasterKeys(ring or keyring(k1=K1)), filterable_metadata=["lang"])


def sample(user: str = "alice", number: int = 1) -> Intervention:
    return intervention(user, number, metadata={"lang": "en", "mood": "low", "tries": 3})


async def test_content_is_ciphertext_at_rest(inner: InMemoryStore) -> None:
    store = encrypting(inner)
    record = sample()
    await store.upsert("alice", [record], unit_vectors(1, 0))
    (raw,) = await inner.get("alice", [record.id])
    assert isinstance(raw, Intervention)
    for value in (raw.intervention_text, raw.context, raw.metadata["mood"], raw.metadata["tries"]):
        assert isinstance(value, str)
        assert value.startswith(f"{TOKEN_PREFIX}k1:")
    assert "breathing" not in f"{raw.intervention_text}{raw.context}{dict(raw.metadata)}"
    assert (raw.task, raw.outcome, raw.created_at) == (
        record.task,
        record.outcome,
        record.created_at,
    )
    assert raw.metadata["lang"] == "en"
    assert await store.get("alice", [record.id]) == [record]


async def test_equal_plaintexts_give_different_ciphertexts(inner: InMemoryStore) -> None:
    store = encrypting(inner)
    await store.upsert("alice", [sample(number=1), sample(number=2)], unit_vectors(2, 0))
    first, second = await inner.get("alice", ["i1", "i2"])
    assert first.metadata["mood"] != second.metadata["mood"]


async def test_metadata_types_and_any_unicode_round_trip(inner: InMemoryStore) -> None:
    store = encrypting(inner)
    odd = "\ud800 lone surrogate, 🚀, \u202e rtl, zero\u200bwidth, 'quotes' \"and\" \\"
    record = dataclasses.replace(
        sample(),
        intervention_text=odd,
        context="",
        metadata={"b": True, "i": -(2**63), "f": 0.1, "s": odd, "one": 1, "t": "true"},
    )
    await store.upsert("alice", [record], unit_vectors(1, 0))
    (back,) = await store.get("alice", [record.id])
    assert back == record
    assert [type(v) for v in back.metadata.values()] == [bool, int, float, str, int, str]


@pytest.mark.parametrize("where", ["other user", "other record", "other field"])
async def test_moved_ciphertext_fails_with_a_typed_error(inner: InMemoryStore, where: str) -> None:
    store = encrypting(inner)
    await store.upsert("alice", [sample("alice", 1), sample("alice", 2)], unit_vectors(2, 0))
    (raw,) = await inner.get("alice", ["i1"])
    assert isinstance(raw, Intervention)
    if where == "other user":
        moved, user = dataclasses.replace(raw, user_id="mallory"), "mallory"
    elif where == "other record":
        moved, user = dataclasses.replace(raw, id="i2"), "alice"
    else:
        moved, user = dataclasses.replace(raw, context=raw.intervention_text), "alice"
    await inner.upsert(user, [moved], unit_vectors(1, 0))
    with pytest.raises(DecryptionError) as caught:
        await store.get(user, [moved.id])
    assert "breathing" not in str(caught.value)
    assert caught.value.user_id == user


async def test_tampered_ciphertext_fails(inner: InMemoryStore) -> None:
    store = encrypting(inner)
    await store.upsert("alice", [sample()], unit_vectors(1, 0))
    (raw,) = await inner.get("alice", ["i1"])
    assert isinstance(raw, Intervention)
    token = raw.intervention_text
    flipped = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    for bad in (flipped, token + "!", f"{TOKEN_PREFIX}k1:", f"{TOKEN_PREFIX}nokey:AAAA"):
        tampered = dataclasses.replace(raw, intervention_text=bad)
        await inner.upsert("alice", [tampered], unit_vectors(1, 0))
        with pytest.raises(DecryptionError):
            await store.get("alice", ["i1"])


async def test_filtering_on_an_encrypted_key_is_refused(inner: InMemoryStore) -> None:
    store = encrypting(inner)
    await store.upsert("alice", [sample()], unit_vectors(1, 0))
    assert await store.count("alice", SearchFilter(metadata={"lang": "en"})) == 1
    with pytest.raises(ValidationError, match="encrypted") as caught:
        await store.count("alice", SearchFilter(metadata={"mood": "low"}))
    assert caught.value.field == "filters.metadata.mood"
    with pytest.raises(ValidationError):
        await store.search("alice", unit_vectors(1, 0)[0], 1, SearchFilter(metadata={"tries": 3}))
    with pytest.raises(ValidationError):
        await store.list("alice", SearchFilter(metadata={"tries": 3}), 10)


async def test_search_and_list_decrypt(inner: InMemoryStore) -> None:
    store = encrypting(inner)
    records = [sample(number=n) for n in range(3)]
    vectors = unit_vectors(3, 1)
    await store.upsert("alice", records, vectors)
    hits = await store.search("alice", vectors[2], 1, SearchFilter())
    assert [hit.record for hit in hits] == [records[2]]
    assert (await store.list("alice", SearchFilter(), 10)).items == tuple(records)
    got, got_vectors = await store.get_with_vectors("alice", ["i0"])
    assert got == [records[0]]
    assert np.allclose(got_vectors, vectors[:1], atol=1e-6)


async def test_legacy_plaintext_is_read_then_rotated(inner: InMemoryStore) -> None:
    legacy = [sample(number=1), reflection("alice", 2)]
    await inner.upsert("alice", legacy, unit_vectors(2, 0))
    store = encrypting(inner)
    assert await store.get("alice", ["i1", "r2"]) == legacy
    report = await store.rotate()
    assert (report.users, report.scanned, report.rewritten) == (1, 2, 2)
    raw_reflection = (await inner.get("alice", ["r2"]))[0]
    assert isinstance(raw_reflection, Reflection)
    assert raw_reflection.text.startswith(TOKEN_PREFIX)
    assert await store.get("alice", ["i1", "r2"]) == legacy


async def test_rotation_moves_everything_to_the_new_key_in_batches(inner: InMemoryStore) -> None:
    old = encrypting(inner, keyring(k1=K1))
    records = {user: [sample(user, n) for n in range(25)] for user in ("alice", "bob")}
    for user, batch in records.items():
        await old.upsert(user, batch, unit_vectors(25, 3))
    new = encrypting(inner, keyring(k1=K1, k2=K2))
    assert await new.get("alice", ["i0"]) == [records["alice"][0]]  # old keys still decrypt
    batches: list[int] = []
    report = await new.rotate(batch_size=10, progress=batches.append)
    assert (report.users, report.scanned, report.rewritten) == (2, 50, 50)
    assert batches == [10, 10, 5] * 2  # one call per batch scanned
    assert (await new.rotate(user_id="bob", batch_size=7)).rewritten == 0
    only_new = encrypting(inner, keyring(k2=K2))  # k1 retired
    for user, batch in records.items():
        assert (await only_new.list(user, SearchFilter(), 100)).items == tuple(batch)
    with pytest.raises(DecryptionError, match="retired"):
        await encrypting(inner, keyring(k1=K1)).get("alice", ["i0"])


async def test_crypto_shredding_makes_copies_unreadable(inner: InMemoryStore) -> None:
    keys = UserDataKeys(keyring(k1=K1), InMemoryDataKeyStore())
    store = Encrypted(inner, keys)
    await store.upsert("alice", [sample("alice")], unit_vectors(1, 0))
    await store.upsert("bob", [sample("bob")], unit_vectors(1, 0))
    assert await store.shred("alice")
    assert await inner.count("alice", SearchFilter()) == 1  # the ciphertext is still there...
    with pytest.raises(DecryptionError, match="erased"):
        await store.get("alice", ["i1"])  # ...and unreadable, even by a fresh process:
    with pytest.raises(DecryptionError):
        await Encrypted(inner, UserDataKeys(keys.keyring, keys.store)).get("alice", ["i1"])
    assert await store.get("bob", ["i1"]) == [sample("bob")]
    # New writes get a new key; the old ciphertext stays dead.
    await store.upsert("alice", [sample("alice", 2)], unit_vectors(1, 0))
    assert await store.get("alice", ["i2"]) == [sample("alice", 2)]
    with pytest.raises(DecryptionError):
        await store.get("alice", ["i1"])


async def test_forget_user_erases_the_data_key(inner: InMemoryStore) -> None:
    data_keys = InMemoryDataKeyStore()
    store = Encrypted(inner, UserDataKeys(keyring(k1=K1), data_keys))
    await store.upsert("alice", [sample()], unit_vectors(1, 0))
    assert "alice" in data_keys.keys
    assert await store.forget_user("alice") == 1
    assert "alice" not in data_keys.keys
    assert await Encrypted(inner, MasterKeys(keyring(k1=K1))).forget_user("x") == 0


async def test_per_user_keys_survive_restart_and_rotate_by_rewrapping(
    inner: InMemoryStore, tmp_path: Path
) -> None:
    path = tmp_path / "keys" / "data-keys.json"
    store = Encrypted(inner, UserDataKeys(keyring(k1=K1), FileDataKeyStore(path)))
    await store.upsert("alice", [sample()], unit_vectors(1, 0))
    assert path.stat().st_mode & 0o777 == 0o600
    assert base64.b64encode(K1).decode() not in path.read_text()
    rotated = Encrypted(inner, UserDataKeys(keyring(k1=K1, k2=K2), FileDataKeyStore(path)))
    report = await rotated.rotate()
    assert (report.keys_rewrapped, report.rewritten) == (1, 0)  # records keep their data key
    reopened = Encrypted(inner, UserDataKeys(keyring(k2=K2), FileDataKeyStore(path)))
    assert await reopened.get("alice", ["i1"]) == [sample()]


async def test_a_wrapped_key_moved_to_another_user_fails(inner: InMemoryStore) -> None:
    data_keys = InMemoryDataKeyStore()
    store = Encrypted(inner, UserDataKeys(keyring(k1=K1), data_keys))
    await store.upsert("alice", [sample("alice")], unit_vectors(1, 0))
    data_keys.keys["mallory"] = data_keys.keys["alice"]
    with pytest.raises(DecryptionError, match="does not belong"):
        await Encrypted(inner, UserDataKeys(keyring(k1=K1), data_keys)).upsert(
            "mallory", [sample("mallory")], unit_vectors(1, 0)
        )


async def test_unreadable_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    with pytest.raises(ConfigurationError, match="MEMCORE_ENCRYPTION__DATA_KEY_FILE"):
        await FileDataKeyStore(path).load("alice")


@pytest.mark.parametrize(
    ("keys", "primary", "message"),
    [
        ({}, "k1", "no encryption key"),
        ({"k1": SecretStr("not base64!")}, "k1", "base64"),
        ({"k1": SecretStr(base64.b64encode(b"short").decode())}, "k1", "32 bytes"),
        ({"bad id": SecretStr(generate_key())}, "bad id", "key id"),
        ({"k1": SecretStr(generate_key())}, "k2", "primary"),
    ],
)
def test_keyring_rejects_bad_settings(
    keys: dict[str, SecretStr], primary: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Keyring.from_secrets(keys, primary)


def test_keyring_never_shows_key_material() -> None:
    secret = generate_key()
    ring = Keyring.from_secrets({"k1": SecretStr(secret)}, "k1")
    assert len(base64.b64decode(secret)) == 32
    assert secret not in repr(ring)
    assert ring.key_ids == {"k1"}


async def test_the_outbox_below_encryption_holds_only_ciphertext(tmp_path: Path) -> None:
    class Down(InMemoryStore):
        async def upsert(self, user_id: str, records: object, vectors: object) -> None:  # type: ignore[override]
            raise StoreUnavailableError("down")

    backend = Down()
    await backend.ensure_schema(SCHEMA)
    outbox = Outbox(directory=tmp_path)
    degradation = DegradationPolicy(outbox, backend="memory", replay_interval=3600)
    store = Encrypted(backend, MasterKeys(keyring(k1=K1)), below=(degradation,))
    await store.upsert("alice", [sample()], unit_vectors(1, 0))
    [journal] = journals(tmp_path)
    text = journal.read_text()
    assert TOKEN_PREFIX in text
    assert "slow breathing" not in text  # the intervention text (the task stays clear)
    assert "stress before session" not in text  # the context
    assert '"low"' not in text  # the encrypted metadata value "mood"
    await outbox.aclose()


async def test_updated_content_is_ciphertext_at_rest(inner: InMemoryStore) -> None:
    store = encrypting(inner)
    record = sample()
    await store.upsert("alice", [record], unit_vectors(1, 0))
    update = RecordUpdate(
        record.id,
        RecordKind.INTERVENTION,
        {"context": "after the call", "metadata": {"lang": "de", "mood": "calm"}},
        utcnow(),
        100,
    )
    updated = await store.update("alice", update, None)
    (raw,) = await inner.get("alice", [record.id])
    assert isinstance(raw, Intervention)
    for value in (raw.context, raw.metadata["mood"]):
        assert isinstance(value, str)
        assert value.startswith(f"{TOKEN_PREFIX}k1:")
    assert raw.metadata["lang"] == "de"
    assert isinstance(updated, Intervention)
    assert (updated.context, dict(updated.metadata)) == (
        "after the call",
        {"lang": "de", "mood": "calm"},
    )
    assert await store.get("alice", [record.id]) == [updated]
