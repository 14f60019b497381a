"""The contract of :meth:`memcore.ports.MemoryStore.update`: one test per sentence."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from memcore.domain import (
    Intervention,
    Outcome,
    OutcomeChange,
    RecordKind,
    RecordUpdate,
    SearchFilter,
    apply_update,
)
from memcore.errors import ConflictError
from memcore.ports import MemoryStore, UnitVectors
from memcore.testing._suite import T0, StoreFixtures, intervention, reflection, unit_vectors
from memcore.testing.store_isolation import HOSTILE_USER_IDS

_AT = T0 + timedelta(days=3)


def change(
    record_id: str = "i1",
    kind: RecordKind | None = RecordKind.INTERVENTION,
    *,
    minutes: int = 0,
    history_limit: int = 100,
    **values: Any,
) -> RecordUpdate:
    """An update of ``record_id`` setting ``values``, made ``minutes`` after a fixed time."""
    return RecordUpdate(
        id=record_id,
        kind=kind,
        values=values,
        at=_AT + timedelta(minutes=minutes),
        history_limit=history_limit,
    )


class UpdateContract(StoreFixtures):
    """update: fields changed in place, atomically, never lost, never moved."""

    async def test_update_applies_the_values_and_returns_the_record(
        self, ready: MemoryStore
    ) -> None:
        """Troubleshooting: the record becomes ``apply_update`` of it (values set,
        ``updated_at`` the update's time, the outcome appended to the history), and the
        store returns what it now holds, as ``get`` reads it.
        """
        original = intervention("u", 1, outcome=Outcome.UNKNOWN, metadata={"lang": "en"})
        await ready.upsert("u", [original], unit_vectors(1, seed=50))
        update = change(outcome=Outcome.TASK_COMPLETED, metadata={"lang": "de", "n": 2})
        updated = await ready.update("u", update, None)
        assert updated == apply_update(original, update)
        assert isinstance(updated, Intervention)
        assert updated.outcome is Outcome.TASK_COMPLETED
        assert updated.updated_at == update.at
        assert updated.outcome_history == (OutcomeChange(Outcome.TASK_COMPLETED, update.at),)
        assert await ready.get("u", ["i1"]) == [updated]
        done = SearchFilter(outcomes=frozenset({Outcome.TASK_COMPLETED}))
        assert await ready.count("u", done) == 1
        assert await ready.count("u", SearchFilter(metadata={"lang": "en"})) == 0
        assert await ready.count("u", SearchFilter(metadata={"n": 2})) == 1

    async def test_texts_and_tasks_are_updated_and_filters_see_them(
        self, ready: MemoryStore
    ) -> None:
        """Troubleshooting: an indexed field changed by an update must be re-indexed;
        emptying a text must leave no old value behind.
        """
        await ready.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=51))
        update = change(task="walk", context="", intervention_text="Go for a walk")
        updated = await ready.update("u", update, None)
        assert isinstance(updated, Intervention)
        assert (updated.task, updated.context, updated.intervention_text) == (
            "walk",
            "",
            "Go for a walk",
        )
        assert await ready.get("u", ["i1"]) == [updated]
        assert await ready.count("u", SearchFilter(task="walk")) == 1
        assert await ready.count("u", SearchFilter(task="breathing")) == 0

    async def test_outcome_history_keeps_each_change_in_order_up_to_the_limit(
        self, ready: MemoryStore
    ) -> None:
        """Troubleshooting: append each outcome with its time, oldest first, and drop the
        oldest beyond ``history_limit``.
        """
        await ready.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=52))
        outcomes = [Outcome.USER_ENGAGED, Outcome.PARTIAL_PROGRESS, Outcome.TASK_COMPLETED]
        for minutes, outcome in enumerate(outcomes):
            await ready.update("u", change(minutes=minutes, history_limit=2, outcome=outcome), None)
        (record,) = await ready.get("u", ["i1"])
        assert record.kind is RecordKind.INTERVENTION
        assert record.outcome_history == tuple(
            OutcomeChange(outcome, _AT + timedelta(minutes=minutes))
            for minutes, outcome in list(enumerate(outcomes))[1:]
        )

    async def test_applying_an_update_again_changes_nothing_more(self, ready: MemoryStore) -> None:
        """Troubleshooting: a retried update (same time, same outcome) must not append
        its outcome twice.
        """
        await ready.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=53))
        update = change(outcome=Outcome.USER_RESISTED)
        first = await ready.update("u", update, None)
        assert await ready.update("u", update, None) == first
        assert await ready.get("u", ["i1"]) == [first]

    async def test_a_given_vector_replaces_the_embedding_else_it_is_kept(
        self, ready: MemoryStore
    ) -> None:
        """Troubleshooting: without a vector leave the stored one alone; with one, search
        must rank by the new one at once.
        """
        vectors = unit_vectors(3, seed=54)
        await ready.upsert("u", [intervention("u", 1)], UnitVectors(vectors[:1]))
        await ready.update("u", change(metadata={"a": 1}), None)
        _, kept = await ready.get_with_vectors("u", ["i1"])
        assert np.allclose(kept[0], vectors[0], atol=1e-3)
        await ready.update("u", change(minutes=1, task="x"), UnitVectors(vectors[1]))
        _, replaced = await ready.get_with_vectors("u", ["i1"])
        assert np.allclose(replaced[0], vectors[1], atol=1e-3)
        hits = await ready.search("u", UnitVectors(vectors[1]), 1, SearchFilter())
        assert hits[0].score == pytest.approx(1.0, abs=1e-3)

    async def test_concurrent_updates_of_one_record_are_all_applied(
        self, ready: MemoryStore
    ) -> None:
        """Troubleshooting: a read-modify-write in the client loses updates; apply each
        update atomically where the data is (a script, a lock).
        """
        await ready.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=55))
        outcomes = list(Outcome)
        updates = [
            change(minutes=n, outcome=outcomes[n % len(outcomes)], metadata={"n": n})
            for n in range(20)
        ]
        await asyncio.gather(*(ready.update("u", update, None) for update in updates))
        (record,) = await ready.get("u", ["i1"])
        assert record.kind is RecordKind.INTERVENTION
        assert len(record.outcome_history) == 20
        assert {entry.at for entry in record.outcome_history} == {u.at for u in updates}

    async def test_a_missing_record_is_none_and_nothing_is_written(
        self, ready: MemoryStore
    ) -> None:
        """Troubleshooting: check the record exists (of this user) inside the atomic step;
        never create a partial record from an update.
        """
        await ready.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=56))
        assert await ready.update("u", change("i2", outcome=Outcome.TASK_COMPLETED), None) is None
        assert await ready.update("v", change("i1", outcome=Outcome.TASK_COMPLETED), None) is None
        assert await ready.count("u", SearchFilter()) == 1
        assert await ready.count("v", SearchFilter()) == 0
        assert await ready.get("u", ["i1"]) == [intervention("u", 1)]

    async def test_a_record_of_another_kind_is_missing(self, ready: MemoryStore) -> None:
        """Troubleshooting: compare the stored kind with ``update.kind`` (``None``: any)."""
        await ready.upsert("u", [reflection("u", 1)], unit_vectors(1, seed=57))
        assert await ready.update("u", change("r1", outcome=Outcome.TASK_COMPLETED), None) is None
        assert await ready.get("u", ["r1"]) == [reflection("u", 1)]
        updated = await ready.update("u", change("r1", None, metadata={"k": "v"}), None)
        assert updated == replace(reflection("u", 1), metadata={"k": "v"}, updated_at=_AT)

    async def test_a_guarded_update_of_a_changed_record_conflicts(self, ready: MemoryStore) -> None:
        """Troubleshooting: with ``guard``, compare the stored ``updated_at`` with
        ``if_updated_at`` (``None``: never updated) in the same atomic step as the write.
        """
        await ready.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=58))
        guarded = replace(change(minutes=5, task="x"), guard=True, if_updated_at=None)
        await ready.update("u", change(outcome=Outcome.NO_RESPONSE), None)
        with pytest.raises(ConflictError):
            await ready.update("u", guarded, None)
        (record,) = await ready.get("u", ["i1"])
        assert isinstance(record, Intervention)
        assert record.task == "breathing"
        assert record.updated_at == _AT
        current = replace(guarded, if_updated_at=_AT)
        updated = await ready.update("u", current, None)
        assert isinstance(updated, Intervention)
        assert updated.task == "x"

    async def test_the_id_user_and_creation_time_never_change(self, ready: MemoryStore) -> None:
        """Troubleshooting: an update writes only the fields it names, under the key the
        user and id give; other users' records of the same id stay as they are.
        """
        mine, theirs = intervention("u", 1), intervention("v", 1)
        await ready.upsert("u", [mine], unit_vectors(1, seed=59))
        await ready.upsert("v", [theirs], unit_vectors(1, seed=60))
        updated = await ready.update("u", change(outcome=Outcome.TASK_ABANDONED), None)
        assert updated is not None
        assert (updated.id, updated.user_id, updated.created_at) == (
            mine.id,
            mine.user_id,
            mine.created_at,
        )
        assert await ready.get("v", ["i1"]) == [theirs]

    async def test_seen_again_counts_one_more_sighting(self, ready: MemoryStore) -> None:
        """Troubleshooting: ``seen_again`` adds one to the stored ``seen`` in the same
        atomic step, so concurrent sightings are all counted.
        """
        await ready.upsert("u", [intervention("u", 1)], unit_vectors(1, seed=61))
        sightings = [replace(change(minutes=n), seen_again=True) for n in range(10)]
        await asyncio.gather(*(ready.update("u", sighting, None) for sighting in sightings))
        (record,) = await ready.get("u", ["i1"])
        assert isinstance(record, Intervention)
        assert record.seen == 11
        assert record.outcome_history == ()

    async def test_create_stores_a_missing_record_once_and_counts_the_rest(
        self, ready: MemoryStore
    ) -> None:
        """Troubleshooting: with ``create``, deciding "create or count" must be one atomic
        step: of ten concurrent calls for one new record, one creates it (seen once) and
        nine count a sighting; the first embedding stays.
        """
        new = intervention("u", 1)
        vectors = [unit_vectors(1, seed=70 + n) for n in range(10)]
        sightings = [replace(change(minutes=n), seen_again=True, create=new) for n in range(10)]
        done = await asyncio.gather(
            *(
                ready.update("u", sighting, row)
                for sighting, row in zip(sightings, vectors, strict=True)
            )
        )
        assert sum(record == new for record in done) == 1
        (record,) = await ready.get("u", ["i1"])
        assert isinstance(record, Intervention)
        assert record.seen == 10
        (_, stored) = await ready.get_with_vectors("u", ["i1"])
        assert any(np.allclose(stored, row, atol=1e-3) for row in vectors)

    async def test_an_update_outside_its_scope_is_none_and_nothing_is_written(
        self, ready: MemoryStore
    ) -> None:
        """Troubleshooting: compare the stored ``agent_id``/``session_id`` with
        ``update.scope`` in the same atomic step as the write: an update scoped to agent
        A never changes agent B's record (nor an unscoped one) and finds nothing.
        """
        records = [
            replace(intervention("u", 1), agent_id="b", session_id="s1"),
            intervention("u", 2),
            replace(intervention("u", 3), agent_id="a", session_id="s2"),
        ]
        await ready.upsert("u", records, unit_vectors(3, seed=62))
        for scope in ({"agent_id": "a"}, {"agent_id": "b", "session_id": "s2"}):
            for record in records[:2]:
                update = replace(change(record.id, outcome=Outcome.USER_RESISTED), scope=scope)
                assert await ready.update("u", update, None) is None, (scope, record.id)
        assert await ready.get("u", ["i1", "i2"]) == records[:2]
        within = replace(change("i3", outcome=Outcome.USER_RESISTED), scope={"agent_id": "a"})
        assert await ready.update("u", within, None) == apply_update(records[2], within)

    async def test_hostile_scope_ids_in_an_update_never_meet(self, ready: MemoryStore) -> None:
        """Troubleshooting: a scope id is data like a user id: compare it exactly, never
        as a pattern. An update scoped to each id finds that id's record and none of its
        neighbours' in the list (the look-alikes: ``acme``, ``acme-corp``, ``acme*``).
        """
        records = [
            replace(intervention("u", n), agent_id=scope, session_id=scope)
            for n, scope in enumerate(HOSTILE_USER_IDS)
        ]
        await ready.upsert("u", records, unit_vectors(len(records), seed=63))
        for n, record in enumerate(records):
            near = [records[(n + step) % len(records)] for step in range(-3, 4)]
            for name in ("agent_id", "session_id"):
                scope = {name: getattr(record, name)}
                updates = [replace(change(other.id, task="moved"), scope=scope) for other in near]
                done = [await ready.update("u", update, None) for update in updates]
                assert [found.id for found in done if found] == [record.id], scope
        assert await ready.count("u", SearchFilter(task="moved")) == len(records)
