"""The store contract for the service's later-life calls: ``update_outcome``, ``update``,
``forget``, ``what_worked``, ``search_interventions(min_score=)`` and the ``on_duplicate``
and ``ttl`` of ``record_intervention``, one test per sentence of their docstrings, through
a :class:`~memcore.MemoryService` built on the store.

These calls are made of the port's methods, so a store keeping the port's promises passes;
running them on every backend shows the composition holds there too (scores, filters and
atomic updates as the backend really gives them).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from memcore.adapters.hashing import HashingEmbedder
from memcore.domain import Intervention, Outcome, OutcomeChange, Reflection, utcnow
from memcore.errors import NotFoundError, ValidationError
from memcore.ports import MemoryStore, Vectors
from memcore.service import MemoryService
from memcore.testing._suite import SCHEMA, StoreFixtures


class CountingEmbedder(HashingEmbedder):
    """The offline hashing embedder, counting its calls and keeping every text it embedded."""

    def __init__(self, dimension: int = SCHEMA.dimension) -> None:
        super().__init__(dimension=dimension)
        self.calls = 0
        self.texts: list[str] = []

    async def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        self.texts += texts
        return await super().embed(texts)


async def _record(service: MemoryService, user: str = "u", **fields: Any) -> Intervention:
    values: dict[str, Any] = {"task": "breathing", "context": "before a talk", **fields}
    text = str(values.pop("text", "Try box breathing"))
    return (await service.record_intervention(user, text, **values)).record


class ServiceCallsContract(StoreFixtures):
    """The later-life calls of a service whose store is the one under test."""

    @pytest.fixture
    def embedder(self) -> CountingEmbedder:
        return CountingEmbedder()

    @pytest.fixture
    async def service(
        self, store: MemoryStore, embedder: CountingEmbedder
    ) -> AsyncIterator[MemoryService]:
        async with MemoryService(store, embedder) as service:
            yield service

    async def test_update_outcome_sets_it_now_without_embedding(
        self, service: MemoryService, embedder: CountingEmbedder
    ) -> None:
        """Troubleshooting: ``update_outcome`` is one ``store.update``; the store must apply
        the outcome, ``updated_at`` and the history entry, and keep the embedding.
        """
        record = await _record(service)
        embedder.texts.clear()
        before = utcnow()
        updated = await service.update_outcome("u", record.id, "task_completed")
        assert embedder.texts == []
        assert updated.outcome is Outcome.TASK_COMPLETED
        assert updated.updated_at is not None
        assert before <= updated.updated_at <= utcnow()
        assert updated.outcome_history == (
            OutcomeChange(Outcome.TASK_COMPLETED, updated.updated_at),
        )
        assert await service.get("u", record.id) == updated
        found = await service.search_interventions("u", "x", filters={"outcome": "task_completed"})
        assert [hit.record.id for hit in found] == [record.id]

    async def test_update_outcome_of_no_such_intervention_is_not_found(
        self, service: MemoryService
    ) -> None:
        """Troubleshooting: ``store.update`` returns ``None`` for a missing id, another
        user's id and a record of another kind, and writes nothing.
        """
        record = await _record(service)
        reflection = (await service.record_reflection("u", "Mornings work")).record
        for user, record_id in (("u", "nope"), ("v", record.id), ("u", reflection.id)):
            with pytest.raises(NotFoundError):
                await service.update_outcome(user, record_id, Outcome.TASK_COMPLETED)
        assert await service.get_many("u", [record.id, reflection.id]) == [record, reflection]
        assert await service.get_many("v", [record.id]) == []

    async def test_concurrent_outcome_updates_are_all_kept(self, service: MemoryService) -> None:
        """Troubleshooting: one atomic store call per update; a read-modify-write in the
        store loses history entries when updates race.
        """
        record = await _record(service)
        outcomes = [Outcome.USER_ENGAGED, Outcome.TASK_COMPLETED] * 5
        await asyncio.gather(*(service.update_outcome("u", record.id, o) for o in outcomes))
        updated = await service.get("u", record.id)
        assert isinstance(updated, Intervention)
        assert sorted(change.outcome for change in updated.outcome_history) == sorted(outcomes)

    async def test_update_changes_only_what_is_given(self, service: MemoryService) -> None:
        """Troubleshooting: ``None`` leaves a field as it is; ``metadata`` replaces the
        whole mapping; id, user and ``created_at`` never change, ``updated_at`` is now and
        a new outcome is appended to the history.
        """
        record = await _record(service, metadata={"lang": "en", "n": 1})
        updated = await service.update("u", record.id, metadata={"lang": "de"}, outcome="escalated")
        assert isinstance(updated, Intervention)
        assert updated.metadata == {"lang": "de"}
        assert (updated.task, updated.context, updated.intervention_text) == (
            record.task,
            record.context,
            record.intervention_text,
        )
        assert (updated.id, updated.user_id, updated.created_at) == (
            record.id,
            record.user_id,
            record.created_at,
        )
        assert updated.updated_at is not None
        assert updated.updated_at >= record.created_at
        assert updated.outcome_history == (OutcomeChange(Outcome.ESCALATED, updated.updated_at),)
        assert await service.get("u", record.id) == updated

    async def test_text_is_either_kinds_and_the_rest_an_interventions(
        self, service: MemoryService
    ) -> None:
        """Troubleshooting: ``text`` is an intervention's ``intervention_text`` or a
        reflection's ``text``; ``outcome``, ``task`` and ``context`` of a reflection are
        not found (the store compares the stored kind with ``update.kind``).
        """
        record = await _record(service)
        reflection = (await service.record_reflection("u", "Mornings work")).record
        changed = await service.update("u", record.id, text="Go for a walk")
        assert isinstance(changed, Intervention)
        assert changed.intervention_text == "Go for a walk"
        again = await service.update("u", reflection.id, text="Evenings work")
        assert isinstance(again, Reflection)
        assert again.text == "Evenings work"
        update = functools.partial(service.update, "u", reflection.id)
        changes = (
            functools.partial(update, outcome=Outcome.TASK_COMPLETED),
            functools.partial(update, task="x"),
            functools.partial(update, context="x"),
        )
        for change in changes:
            with pytest.raises(NotFoundError):
                await change()
        assert await service.get("u", reflection.id) == again

    async def test_only_an_embedded_field_embeds_the_record_again(
        self, service: MemoryService, store: MemoryStore, embedder: CountingEmbedder
    ) -> None:
        """Troubleshooting: with a vector, ``store.update`` replaces the stored embedding;
        without one, it keeps it.
        """
        record = await _record(service)
        _, (first,) = await store.get_with_vectors("u", [record.id])
        embedder.texts.clear()
        await service.update("u", record.id, metadata={"k": "v"}, outcome="user_engaged")
        _, (kept,) = await store.get_with_vectors("u", [record.id])
        assert embedder.texts == []
        np.testing.assert_array_equal(kept, first)
        updated = await service.update("u", record.id, context="after a walk")
        assert isinstance(updated, Intervention)
        assert embedder.texts == [updated.embedding_text()]
        _, (moved,) = await store.get_with_vectors("u", [record.id])
        (expected,) = await HashingEmbedder(dimension=SCHEMA.dimension).embed(embedder.texts)
        np.testing.assert_allclose(moved, expected, atol=1e-6)

    async def test_a_reembedding_update_keeps_the_updates_that_raced_it(
        self, service: MemoryService
    ) -> None:
        """Troubleshooting: a re-embedding update is written only if no other update came
        in meanwhile (``update.guard``): the store must compare ``updated_at`` atomically.
        """
        record = await _record(service)
        outcomes = [Outcome.USER_ENGAGED, Outcome.TASK_COMPLETED, Outcome.NO_RESPONSE]
        await asyncio.gather(
            service.update("u", record.id, text="Box breathing, slower"),
            *(service.update_outcome("u", record.id, outcome) for outcome in outcomes),
        )
        final = await service.get("u", record.id)
        assert isinstance(final, Intervention)
        assert final.intervention_text == "Box breathing, slower"
        assert sorted(c.outcome for c in final.outcome_history) == sorted(outcomes)

    async def test_forget_deletes_one_scope_and_nothing_else(self, service: MemoryService) -> None:
        """Troubleshooting: ``forget`` lists the scope's records through the store's
        filters (``agent_id``, ``session_id`` as tags) and deletes them; a filter that
        matches unscoped records or other scopes deletes too much.
        """
        ids = {}
        for agent, session in (("coach", "s1"), ("coach", "s2"), ("planner", "s1"), (None, None)):
            record = await _record(service, agent_id=agent, session_id=session)
            ids[agent, session] = record.id
        await _record(service, user="v", agent_id="coach")
        assert await service.forget("u", agent_id="coach", session_id="s1") == 1
        assert await service.forget("u", agent_id="coach") == 1
        assert await service.forget("u", session_id="s1") == 1
        assert {r.id for r in (await service.list("u")).items} == {ids[None, None]}
        assert (await service.stats("v")).interventions == 1
        with pytest.raises(ValidationError):
            await service.forget("u")

    async def test_what_worked_ranks_and_explains_each_hit(self, service: MemoryService) -> None:
        """Troubleshooting: the ranking uses the store's search scores; they must be cosine
        similarities, best first, filtered to interventions before ranking.
        """
        outcomes = ["task_completed"] * 3 + ["user_resisted", "unknown"]
        for n, outcome in enumerate(outcomes):
            await _record(service, text=f"Box breathing, round {n}", outcome=outcome)
        await _record(service, text="Box breathing walk", task="walk", outcome="user_resisted")
        await service.record_reflection("u", "Box breathing before a talk works")
        worked = await service.what_worked("u", "Box breathing before a talk", k=3)
        assert len(worked.hits) == 3
        for hit in worked.hits:
            assert hit.record.outcome is Outcome.TASK_COMPLETED
            assert hit.recency == 1.0
            assert hit.score == pytest.approx(max(hit.similarity, 0) * hit.outcome_weight)
        scores = [hit.score for hit in worked.hits]
        assert scores == sorted(scores, reverse=True)
        rates = {rate.task: str(rate) for rate in worked.rates}
        assert rates == {
            "breathing": "breathing: 3 of 5 completed",
            "walk": "walk: 0 of 1 completed",
        }
        assert worked == await service.what_worked("u", "Box breathing before a talk", k=3)

    async def test_what_worked_keeps_to_the_task_and_scope_given(
        self, service: MemoryService
    ) -> None:
        """Troubleshooting: ``task``, ``agent_id`` and ``session_id`` become tag filters
        of the search; a store must apply them before ranking.
        """
        mine = await _record(service, task="walk", agent_id="coach", session_id="s1")
        await _record(service, task="walk", agent_id="planner", session_id="s1")
        await _record(service, task="breathing", agent_id="coach", session_id="s1")
        worked = await service.what_worked(
            "u", "Box breathing", task="walk", agent_id="coach", session_id="s1"
        )
        assert [hit.record.id for hit in worked.hits] == [mine.id]
        assert [str(rate) for rate in worked.rates] == ["walk: 0 of 1 completed"]

    async def test_min_score_leaves_out_less_similar_hits(self, service: MemoryService) -> None:
        """Troubleshooting: ``min_score`` compares the store's scores; they must be cosine
        similarities (``1 - distance``), not distances.
        """
        near = await _record(service, text="Try box breathing")
        await _record(service, text="Drink a glass of water", task="hydrate", context="tired")
        hits = await service.search_interventions("u", near.embedding_text(), k=5)
        assert hits[0].record.id == near.id
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        bound = (hits[0].score + hits[1].score) / 2
        close = await service.search_interventions("u", near.embedding_text(), min_score=bound)
        assert [hit.record.id for hit in close] == [near.id]

    async def test_a_duplicate_is_skipped_or_merged_when_asked(
        self, service: MemoryService
    ) -> None:
        """Troubleshooting: ``skip`` and ``merge`` find the duplicate by a search filtered
        on task and scope; ``merge`` counts it ``seen`` once more through ``store.update``
        (``seen_again``), which must add one atomically and stamp ``updated_at``.
        """
        first = await _record(service)
        skipped = await _record(service, on_duplicate="skip")
        assert skipped == first
        merged = await _record(service, on_duplicate="merge")
        assert (merged.id, merged.seen) == (first.id, 2)
        assert merged.updated_at is not None
        other = await _record(service, task="walk", on_duplicate="skip")
        assert other.id != first.id
        assert (await service.stats("u")).interventions == 2

    async def test_ttl_sets_expires_at_and_the_record_goes(self, service: MemoryService) -> None:
        """Troubleshooting: ``ttl`` becomes the record's ``expires_at``; once it has passed
        the store must not return or count the record (see the expiry contract).
        """
        before = utcnow()
        short = await _record(service, ttl=0.3)
        kept = (await service.record_reflection("u", "Mornings work", ttl=3600)).record
        assert short.expires_at is not None
        assert (
            before + timedelta(seconds=0.3) <= short.expires_at <= utcnow() + timedelta(seconds=0.3)
        )
        assert await service.get("u", short.id) == short
        await asyncio.sleep((short.expires_at - utcnow()).total_seconds() + 0.05)
        assert await service.get_many("u", [short.id, kept.id]) == [kept]
        assert await service.search_interventions("u", "box breathing") == []
        assert (await service.stats("u")).interventions == 0
