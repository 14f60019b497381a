from __future__ import annotations

from datetime import datetime, timezone

import pytest
from langchain_core.documents import Document

import memcore
from conftest import NEIGHBOUR, USER
from memcore_langchain import MemcoreRetriever


@pytest.fixture
async def memories(memory: memcore.MemoryService) -> dict[str, str]:
    breathing = await memory.record_intervention(
        USER,
        "Try two minutes of box breathing.",
        task="calm_down",
        context="anxious before an interview",
        outcome="task_completed",
        metadata={"channel": "voice"},
    )
    walk = await memory.record_intervention(
        USER, "Take a short walk first.", task="calm_down", outcome="user_resisted"
    )
    await memory.record_intervention(NEIGHBOUR, "Try box breathing.", task="calm_down")
    insight = await memory.record_reflection(
        USER, "Breathing exercises help before interviews.", source_ids=[breathing.id]
    )
    return {"breathing": breathing.id, "walk": walk.id, "insight": insight.id}


async def test_documents_carry_the_record_and_its_score(
    memory: memcore.MemoryService, memories: dict[str, str]
) -> None:
    retriever = MemcoreRetriever(service=memory, user_id=USER, k=1)
    [found] = await retriever.ainvoke("box breathing before an interview")
    created_at = datetime.fromisoformat(found.metadata.pop("created_at"))
    assert created_at.tzinfo is not None
    assert 0 < found.metadata.pop("score") <= 1
    assert found == Document(
        id=memories["breathing"],
        page_content="Try two minutes of box breathing.",
        metadata={
            "kind": "intervention",
            "task": "calm_down",
            "context": "anxious before an interview",
            "outcome": "task_completed",
            "metadata": {"channel": "voice"},
        },
    )


async def test_reflections_carry_their_sources(
    memory: memcore.MemoryService, memories: dict[str, str]
) -> None:
    retriever = MemcoreRetriever(service=memory, user_id=USER, kind="reflection")
    [found] = await retriever.ainvoke("breathing")
    assert found.id == memories["insight"]
    assert found.metadata["kind"] == "reflection"
    assert found.metadata["source_ids"] == [memories["breathing"]]


async def test_filters_and_k_apply_and_can_be_overridden_per_call(
    memory: memcore.MemoryService, memories: dict[str, str]
) -> None:
    worked = MemcoreRetriever(service=memory, user_id=USER, filters={"outcome": "task_completed"})
    assert [doc.id for doc in await worked.ainvoke("calm down")] == [memories["breathing"]]
    resisted = await worked.ainvoke("calm down", filters={"outcome": "user_resisted"})
    assert [doc.id for doc in resisted] == [memories["walk"]]
    since = memcore.SearchFilter(created_after=datetime.now(timezone.utc))
    assert worked.invoke("calm down", filters=since) == []
    everything = MemcoreRetriever(service=memory, user_id=USER)
    assert len(everything.invoke("calm down")) == 2  # the neighbour's is never among them
    assert len(await everything.ainvoke("calm down", k=1)) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"filters": {"mood": "sad"}}, "filters.mood"),
        ({"k": 0}, "k"),
        ({"user_id": "*"}, "user_id"),
    ],
)
async def test_bad_input_raises_memcore_validation_errors(
    memory: memcore.MemoryService, overrides: dict[str, object], field: str
) -> None:
    retriever = MemcoreRetriever(service=memory, **{"user_id": USER, **overrides})
    with pytest.raises(memcore.ValidationError) as raised:
        await retriever.ainvoke("anything")
    assert raised.value.field == field
