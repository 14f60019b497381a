"""Contract: a store follows the field table (:mod:`memcore.domain.fields`).

A field added to a record through the table alone, with no change to the store, is
written, read, searched and listed back; a field the table marks ``sensitive`` is what
the encryption policy seals, so the store below it only ever holds ciphertext.

It is a suite of its own, apart from :class:`~memcore.testing.StoreContract`: a store
that works its field plan out when its module is imported (as memcore-redis does) runs it
in a fresh process whose table has the field before the store's module is imported::

    RECORD_TYPES[RecordKind.INTERVENTION] = MoodIntervention  # first
    from memcore_mystore import MyStore

    class TestMyStoreFollowsTheTable(AddedFieldContract):
        @pytest.fixture
        async def store(self): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from memcore.domain import Intervention, RecordKind, SearchFilter
from memcore.domain.fields import Value, about, fields_of
from memcore.domain.records import RECORD_TYPES
from memcore.pipeline import Pipeline
from memcore.ports import MemoryStore, UnitVectors
from memcore.testing._suite import SCHEMA, StoreFixtures, intervention, unit_vectors

__all__ = ["AddedFieldContract", "MoodIntervention", "moody"]


@dataclass(frozen=True, slots=True)
class MoodIntervention(Intervention):
    """An intervention with one more field, declared only through the field table."""

    mood: str = field(
        default="",
        repr=False,
        metadata=about(Value.TEXT, sensitive=True, limit="max_task_chars", required=False),
    )


def moody(user_id: str = "u", number: int = 1) -> MoodIntervention:
    """:func:`~memcore.testing._suite.intervention` with a mood."""
    base = intervention(user_id, number)
    values = {spec.name: getattr(base, spec.name) for spec in fields_of(Intervention)}
    return MoodIntervention(**values, mood=f"tense but hopeful, {number}")


class AddedFieldContract(StoreFixtures):
    """A field added through the table round-trips; a sensitive one is stored sealed."""

    @pytest.fixture
    def added_field(self) -> Iterator[None]:
        """Records of kind ``intervention`` are read back as :class:`MoodIntervention`."""
        before = RECORD_TYPES[RecordKind.INTERVENTION]
        RECORD_TYPES[RecordKind.INTERVENTION] = MoodIntervention
        yield
        RECORD_TYPES[RecordKind.INTERVENTION] = before

    @pytest.mark.usefixtures("added_field")
    async def test_a_field_added_through_the_table_round_trips(self, ready: MemoryStore) -> None:
        """Troubleshooting: encode and decode records from ``fields_of(type(record))`` and
        ``RECORD_TYPES[kind]``, by field name, never from a fixed list of fields.
        """
        records = [moody("u", 1), moody("u", 2)]
        vectors = unit_vectors(2, seed=41)
        await ready.upsert("u", records, vectors)
        assert await ready.get("u", ["i1", "i2"]) == records
        hits = await ready.search("u", UnitVectors(vectors[0]), 2, SearchFilter())
        assert hits[0].record == records[0]
        assert sorted((hit.record for hit in hits), key=lambda r: r.id) == records
        page = await ready.list("u", SearchFilter(), 10, None)
        assert sorted(page.items, key=lambda r: r.id) == records

    @pytest.mark.usefixtures("added_field")
    async def test_a_sensitive_added_field_is_stored_sealed(self, store: MemoryStore) -> None:
        """Troubleshooting: store the sealed value as given; do not index or transform
        a field the table does not index.
        """
        # Imported here: encryption needs the optional `cryptography` package.
        from memcore.security.encryption import TOKEN_PREFIX, EncryptionPolicy  # noqa: PLC0415
        from memcore.security.keyring import Keyring, MasterKeys  # noqa: PLC0415

        keys = MasterKeys(Keyring({"k1": b"1" * 32}, primary="k1"))
        sealed = Pipeline([EncryptionPolicy(keys)]).store(store)
        await sealed.ensure_schema(SCHEMA)
        record = moody()
        await sealed.upsert("u", [record], unit_vectors(1, seed=42))
        [held] = await store.get("u", [record.id])
        assert isinstance(held, MoodIntervention)
        assert held.mood.startswith(TOKEN_PREFIX)
        assert held.task == record.task  # not sensitive: kept in clear for filters
        assert await sealed.get("u", [record.id]) == [record]
        assert held.intervention_text.startswith(TOKEN_PREFIX)
