"""The store contract, part two: tenancy, deletion and schema lifecycle."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from memcore.domain import EmbeddingSchema, SearchFilter
from memcore.errors import SchemaMismatchError
from memcore.ports import MemoryStore, UnitVectors
from memcore.testing._suite import SCHEMA, StoreFixtures, intervention, reflection, unit_vectors

#: User ids that break naive stores: prefixes of each other, query metacharacters,
#: glob and regex syntax, key separators, spaces, unicode, and ids that look empty.
HOSTILE_USER_IDS = (
    "acme",
    "acme-corp",
    "acme*",
    "u1",
    "u10",
    "u1 0",
    "a-b",
    "a.b",
    "a#b",
    "a@b",
    "a|b",
    "a?b",
    "*",
    "?",
    "{a}",
    "}{",
    "a\\b",
    "\\",
    "a:b",
    ":",
    "a,b",
    "a b",
    " a",
    "ünïcödé",
    "用户",
    "a\"b'c",
    "$u",
    "%",
    "(a)",
    "[a]",
    "[!a]",
    "~a",
    "a;b",
    "-a",
    "a!",
    "@user_id:{x}",
    "0",
    "null",
    "None",
    "''",
    "a\u00a0b",
    "{user}",
    "x]y",
    "a&b",
    "a^b",
    "a=b",
    "a/b",
    "u" * 128,
)


class IsolationContract(StoreFixtures):
    """No user ever sees, counts or deletes another user's records."""

    async def test_hostile_user_ids_never_meet(self, ready: MemoryStore) -> None:
        """Troubleshooting: never splice a user id into a query, key pattern or glob;
        escape it or, better, encode it. Every user here has records with the *same* ids
        and the *same* vectors, so only the user scope keeps them apart.
        """
        vectors = unit_vectors(2, seed=50)
        for user in HOSTILE_USER_IDS:
            await ready.upsert(
                user, [intervention(user, 1), reflection(user, 2)], UnitVectors(vectors)
            )
        for user in HOSTILE_USER_IDS:
            got = await ready.get(user, ["i1", "r2"])
            assert [record.user_id for record in got] == [user, user], user
            hits = await ready.search(user, UnitVectors(vectors[0]), 50, SearchFilter())
            assert {hit.record.user_id for hit in hits} == {user}, user
            assert len(hits) == 2, user
            page = await ready.list(user, SearchFilter(), 50)
            assert {record.user_id for record in page.items} == {user}, user
            assert await ready.count(user, SearchFilter()) == 2, user

    async def test_deleting_for_one_user_leaves_the_others(self, ready: MemoryStore) -> None:
        """Troubleshooting: delete by (user, id), not by id alone; forget_user must match the
        user exactly (``acme`` must not take ``acme-corp`` or ``acme*`` with it).
        """
        vectors = unit_vectors(2, seed=51)
        for user in HOSTILE_USER_IDS:
            await ready.upsert(
                user, [intervention(user, 1), reflection(user, 2)], UnitVectors(vectors)
            )
        assert await ready.delete("acme", ["i1", "i1", "missing"]) == 1
        assert await ready.forget_user("*") == 2
        assert await ready.forget_user("u1") == 2
        assert await ready.forget_user("u1") == 0
        for user in HOSTILE_USER_IDS:
            expected = {"acme": 1, "*": 0, "u1": 0}.get(user, 2)
            assert await ready.count(user, SearchFilter()) == expected, user
            assert len(await ready.get(user, ["i1", "r2"])) == expected, user


class AdminContract(StoreFixtures):
    """get_with_vectors and user_ids, the operators' reads."""

    async def test_get_with_vectors_returns_the_stored_directions(self, ready: MemoryStore) -> None:
        """Troubleshooting: return row i for record i, float32, in the order of ``ids``;
        decode the stored blob with the dtype it was written with.
        """
        vectors = unit_vectors(3, seed=70) * 2.0
        await ready.upsert("u", [intervention("u", n) for n in range(3)], UnitVectors(vectors))
        records, stored = await ready.get_with_vectors("u", ["i2", "missing", "i0"])
        assert [record.id for record in records] == ["i2", "i0"]
        assert stored.dtype == np.float32
        assert stored.shape == (2, SCHEMA.dimension)
        unit = vectors[[2, 0]] / np.linalg.norm(vectors[[2, 0]], axis=1, keepdims=True)
        cosine = (stored * unit).sum(axis=1) / np.linalg.norm(stored, axis=1)
        assert (cosine > 0.999).all()
        empty_records, empty = await ready.get_with_vectors("v", ["i0"])
        assert empty_records == []
        assert empty.shape == (0, SCHEMA.dimension)

    async def test_user_ids_lists_each_user_with_records_once(self, ready: MemoryStore) -> None:
        """Troubleshooting: decode the user ids exactly as written; users whose records
        were all deleted disappear.
        """
        users = ["acme", "acme-corp", "a b", "用户", "{x}"]
        for user in users:
            await ready.upsert(
                user, [intervention(user, 1), reflection(user, 2)], unit_vectors(2, seed=71)
            )
        await ready.forget_user("a b")
        assert await ready.user_ids() == sorted(set(users) - {"a b"})


class LifecycleContract(StoreFixtures):
    """delete, forget_user and the schema handshake."""

    async def test_delete_counts_what_existed_and_removes_it_everywhere(
        self, ready: MemoryStore
    ) -> None:
        """Troubleshooting: a deleted record must leave the index too (search, list, count)."""
        vectors = unit_vectors(3, seed=60)
        await ready.upsert("u", [intervention("u", n) for n in range(3)], UnitVectors(vectors))
        assert await ready.delete("u", ["i0", "nope"]) == 1
        assert await ready.delete("u", ["i0"]) == 0
        assert await ready.delete("u", []) == 0
        hits = await ready.search("u", UnitVectors(vectors[0]), 10, SearchFilter())
        assert "i0" not in {hit.record.id for hit in hits}
        assert await ready.count("u", SearchFilter()) == 2
        assert await ready.get("u", ["i0"]) == []

    async def test_forget_user_removes_everything_of_that_user(self, ready: MemoryStore) -> None:
        """Troubleshooting: remove records of both kinds, in batches if there are many."""
        vectors = unit_vectors(40, seed=61)
        await ready.upsert(
            "u", [intervention("u", n) for n in range(30)], UnitVectors(vectors[:30])
        )
        await ready.upsert(
            "u", [reflection("u", n) for n in range(30, 40)], UnitVectors(vectors[30:])
        )
        assert await ready.forget_user("u") == 40
        assert await ready.count("u", SearchFilter()) == 0
        assert await ready.search("u", UnitVectors(vectors[0]), 5, SearchFilter()) == []
        assert await ready.forget_user("u") == 0

    async def test_ensure_schema_again_keeps_the_data(self, ready: MemoryStore) -> None:
        """Troubleshooting: ensure_schema must never drop or rebuild an existing index."""
        await ready.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=62))
        await ready.ensure_schema(SCHEMA)
        assert len(await ready.get("u", ["i1"])) == 1

    @pytest.mark.parametrize(
        "other",
        [replace(SCHEMA, dimension=SCHEMA.dimension + 1), replace(SCHEMA, model="another-model")],
        ids=["dimension", "model"],
    )
    async def test_a_different_schema_is_refused(
        self, ready: MemoryStore, other: EmbeddingSchema
    ) -> None:
        """Troubleshooting: persist the schema beside the data and compare both the dimension
        and the model; name both sides in the SchemaMismatchError.
        """
        await ready.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=63))
        with pytest.raises(SchemaMismatchError) as raised:
            await ready.ensure_schema(other)
        assert SCHEMA.model in str(raised.value) or str(SCHEMA.dimension) in str(raised.value)
        assert await ready.count("u", SearchFilter()) == 1

    async def test_health_reports_and_close_twice_is_harmless(self, ready: MemoryStore) -> None:
        """Troubleshooting: health() returns a HealthCheck, never raises; aclose() is idempotent."""
        check = await ready.health()
        assert check.status.value in {"healthy", "degraded", "unhealthy"}
        assert check.latency_ms >= 0
        await ready.aclose()
        await ready.aclose()
