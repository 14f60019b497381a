from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.indexing import InMemoryRecordManager, index

import memcore
from conftest import NEIGHBOUR, USER
from memcore_langchain import MemcoreVectorStore


@pytest.fixture
def notes(memory: memcore.MemoryService) -> MemcoreVectorStore:
    return MemcoreVectorStore(memory, USER, task="notes")


async def test_metadata_round_trips_and_sets_the_intervention_fields(
    memory: memcore.MemoryService, notes: MemcoreVectorStore
) -> None:
    metadata = {"task": "calm_down", "context": "anxious", "outcome": "task_completed", "n": 1}
    [record_id] = await notes.aadd_documents([Document(page_content="Breathe.", metadata=metadata)])

    record = await memory.get(USER, record_id)
    assert isinstance(record, memcore.Intervention)
    assert (record.intervention_text, record.task, record.context, record.outcome) == (
        "Breathe.",
        "calm_down",
        "anxious",
        memcore.Outcome.TASK_COMPLETED,
    )
    assert await notes.aget_by_ids([record_id]) == [
        Document(id=record_id, page_content="Breathe.", metadata=metadata)
    ]


async def test_the_bound_task_is_the_default(
    memory: memcore.MemoryService, notes: MemcoreVectorStore
) -> None:
    [record_id] = await notes.aadd_texts(["Breathe."])
    record = await memory.get(USER, record_id)
    assert isinstance(record, memcore.Intervention)
    assert (record.task, record.outcome, dict(record.metadata)) == (
        "notes",
        memcore.Outcome.UNKNOWN,
        {},
    )


async def test_an_intervention_without_a_task_is_refused(memory: memcore.MemoryService) -> None:
    with pytest.raises(memcore.ValidationError, match="task: is required"):
        await MemcoreVectorStore(memory, USER).aadd_texts(["Breathe."])
    assert (await memory.stats(USER)).interventions == 0


_NOT_FLAT = [
    ({"nested": {"a": 1}}, "metadata.nested"),
    ({"missing": None}, "metadata.missing"),
    ({"tags": ["a", "b"]}, "metadata.tags"),
    ({"with space": "x"}, "metadata"),
]
_BAD_FIELDS = [({"outcome": "great"}, "outcome"), ({"task": 7}, "task")]


@pytest.mark.parametrize(
    ("kind", "metadata", "field"),
    [("intervention", *case) for case in _NOT_FLAT + _BAD_FIELDS]
    + [("reflection", *case) for case in _NOT_FLAT],
)
async def test_what_memcore_cannot_store_is_refused(
    memory: memcore.MemoryService, kind: str, metadata: dict[str, Any], field: str
) -> None:
    task = "t" if kind == "intervention" else None
    store = MemcoreVectorStore(memory, USER, kind=kind, task=task)
    fine = Document(page_content="fine", metadata={"n": 1})
    with pytest.raises(memcore.ValidationError) as raised:
        await store.aadd_documents([fine, Document(page_content="bad", metadata=metadata)])
    # A batch names the item: the second document here.
    assert raised.value.field == (field if kind == "reflection" else f"items[1].{field}")
    stats = await memory.stats(USER)
    # Interventions go in one batch, all or nothing; reflections one call each.
    assert (stats.interventions, stats.reflections) == ((0, 1) if kind == "reflection" else (0, 0))


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"user_id": " x"}, "user_id"),
        ({"kind": "thought"}, "kind"),
        ({"kind": "reflection", "task": "notes"}, "task"),
    ],
)
def test_a_bad_binding_is_refused(
    memory: memcore.MemoryService, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(memcore.ValidationError) as raised:
        MemcoreVectorStore(memory, **{"user_id": USER, **arguments})
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda store: store.aadd_texts(["a"], ids=["1", "2"]), "ids"),
        (lambda store: store.aadd_texts(["a"], ids=["not an id"]), "items[0].id"),
        (lambda store: store.aadd_texts(["a"], upsert=True), "upsert"),
        (lambda store: store.asimilarity_search("a", fetch_k=10), "fetch_k"),
        (lambda store: store.asimilarity_search("a", filter={"colour": "red"}), "filters.colour"),
        (lambda store: store.asimilarity_search_by_vector(["x", "y"]), "embedding"),
        (lambda store: store.asimilarity_search_by_vector([1.0, 2.0]), "embedding"),
        (lambda store: store.adelete(), "ids"),
        (lambda store: store.aget_by_ids(["a/b"]), "ids[0]"),
    ],
)
async def test_bad_arguments_raise_validation_errors(
    notes: MemcoreVectorStore, call: Any, field: str
) -> None:
    with pytest.raises(memcore.ValidationError) as raised:
        await call(notes)
    assert raised.value.field == field


async def test_scores_are_cosine_similarities_and_relevance_maps_them_to_0_1(
    memory: memcore.MemoryService,
) -> None:
    store = MemcoreVectorStore(memory, USER, kind="reflection")
    await store.aadd_texts(["alpha beta gamma", "delta epsilon"])
    [(same, cosine), (_, other)] = await store.asimilarity_search_with_score("alpha beta gamma", 2)
    assert (same.page_content, cosine) == ("alpha beta gamma", pytest.approx(1.0))
    relevance = await store.asimilarity_search_with_relevance_scores("alpha beta gamma", 2)
    assert [score for _, score in relevance] == pytest.approx([1.0, (1 + other) / 2])
    to_relevance = store._select_relevance_score_fn()
    assert [to_relevance(-1.0), to_relevance(0.0), to_relevance(1.0)] == [0.0, 0.5, 1.0]

    [vector] = await memory.embedder.embed(["alpha beta gamma"])
    found = await store.asimilarity_search_by_vector([-x for x in vector.tolist()], k=2)
    assert [doc.page_content for doc in found] == ["delta epsilon", "alpha beta gamma"]


async def test_filters_narrow_the_search(memory: memcore.MemoryService) -> None:
    store = MemcoreVectorStore(memory, USER, task="calm_down")
    await store.aadd_documents(
        [
            Document(page_content="box breathing", metadata={"outcome": "task_completed"}),
            Document(page_content="box breathing again", metadata={"outcome": "user_resisted"}),
            Document(page_content="box breathing", metadata={"task": "sleep", "lang": "en"}),
        ]
    )
    worked = await store.asimilarity_search(
        "box breathing", 5, filter={"outcome": "task_completed"}
    )
    assert [doc.metadata for doc in worked] == [{"outcome": "task_completed"}]
    sleep = store.as_retriever(search_kwargs={"filter": {"task": "sleep"}})
    assert [doc.metadata for doc in await sleep.ainvoke("box breathing")] == [
        {"task": "sleep", "lang": "en"}
    ]
    english = await store.asimilarity_search("box", 5, filter={"metadata": {"lang": "en"}})
    assert len(english) == 1


async def test_each_store_sees_its_own_user_and_kind(memory: memcore.MemoryService) -> None:
    mine = MemcoreVectorStore(memory, USER, task="notes")
    reflections = MemcoreVectorStore(memory, USER, kind="reflection")
    theirs = MemcoreVectorStore(memory, NEIGHBOUR, task="notes")
    await mine.aadd_texts(["mine"], ids=["a"])
    await reflections.aadd_texts(["my reflection"], ids=["b"])
    await theirs.aadd_texts(["theirs"], ids=["c"])

    assert [doc.id for doc in await mine.aget_by_ids(["a", "b", "c"])] == ["a"]
    await mine.adelete(["b", "c"])  # another kind's and another user's: not touched
    assert [r.id for r in await memory.get_many(USER, ["a", "b"])] == ["a", "b"]
    assert [r.id for r in await memory.get_many(NEIGHBOUR, ["c"])] == ["c"]
    await reflections.adelete(["b"])
    assert await memory.get_many(USER, ["b"]) == []


async def test_interventions_are_written_batch_size_at_a_time(notes: MemcoreVectorStore) -> None:
    texts = [f"note {n}" for n in range(5)]
    ids = await notes.aadd_texts(texts, batch_size=2)
    assert [doc.page_content for doc in await notes.aget_by_ids(ids)] == texts


def test_the_langchain_indexing_api_keeps_the_store_in_step(notes: MemcoreVectorStore) -> None:
    manager = InMemoryRecordManager("memcore")
    manager.create_schema()
    first = [Document(page_content=f"doc {n}", metadata={"source": "a"}) for n in range(3)]
    result = index(first, manager, notes, cleanup="full", key_encoder="sha256")
    assert result["num_added"] == 3
    result = index(first[:1], manager, notes, cleanup="full", key_encoder="sha256")
    assert (result["num_skipped"], result["num_deleted"]) == (1, 2)
    assert [doc.page_content for doc in notes.similarity_search("doc", k=5)] == ["doc 0"]


async def test_from_texts_builds_a_bound_store(memory: memcore.MemoryService) -> None:
    store = await MemcoreVectorStore.afrom_texts(
        ["one"], None, [{"n": 1}], ids=["x1"], service=memory, user_id=USER, task="notes"
    )
    assert await store.aget_by_ids(["x1"]) == [
        Document(id="x1", page_content="one", metadata={"n": 1})
    ]
    with pytest.raises(memcore.ValidationError, match="embedding"):
        MemcoreVectorStore.from_texts(
            ["one"], DeterministicFakeEmbedding(size=4), service=memory, user_id=USER
        )


async def test_sync_methods_work_inside_a_running_loop(notes: MemcoreVectorStore) -> None:
    [record_id] = notes.add_texts(["called from async code"])
    assert [doc.id for doc in notes.similarity_search("async code", k=1)] == [record_id]
    assert notes.delete([record_id])
    assert notes.get_by_ids([record_id]) == []
