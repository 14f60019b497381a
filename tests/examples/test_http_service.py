from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from conftest import DownStore, load_example
from memcore import MemoryService
from memcore.adapters.hashing import HashingEmbedder

http = load_example("http_service")


@pytest.fixture
def client() -> Iterator[TestClient]:
    # The default factory: MEMCORE_* settings (in-memory + hashing unless configured).
    with TestClient(http.create_app()) as test_client:
        yield test_client


def test_record_then_search(client: TestClient, user_id: str) -> None:
    created = client.post(
        f"/v1/users/{user_id}/interventions",
        json={
            "intervention_text": "Two minutes of box breathing.",
            "task": "calm_down",
            "context": "anxious before an interview",
            "outcome": "task_completed",
            "metadata": {"channel": "voice"},
        },
    )
    assert created.status_code == 201
    record = created.json()
    assert record["user_id"] == user_id
    assert record["metadata"] == {"channel": "voice"}
    client.post(
        f"/v1/users/{user_id}/interventions",
        json={
            "intervention_text": "List five things you see.",
            "task": "calm_down",
            "outcome": "user_resisted",
        },
    )

    found = client.get(
        f"/v1/users/{user_id}/interventions/search",
        params={"q": "nervous before an interview", "outcome": "task_completed", "k": 3},
    )
    assert found.status_code == 200
    hits = found.json()["hits"]
    assert [hit["record"]["id"] for hit in hits] == [record["id"]]
    assert -1 <= hits[0]["score"] <= 1

    both = client.get(
        f"/v1/users/{user_id}/interventions/search",
        params=[("q", "nervous"), ("outcome", "task_completed"), ("outcome", "user_resisted")],
    )
    assert len(both.json()["hits"]) == 2


def test_reflections_link_their_sources(client: TestClient, user_id: str) -> None:
    source = client.post(
        f"/v1/users/{user_id}/interventions",
        json={"intervention_text": "Walk around the block.", "task": "walk"},
    ).json()
    created = client.post(
        f"/v1/users/{user_id}/reflections",
        json={"text": "Short walks help.", "source_ids": [source["id"]], "idempotency_key": "r1"},
    )
    assert created.status_code == 201
    assert created.json()["source_ids"] == [source["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "calm_down"}, "intervention_text"),
        ({"intervention_text": "x", "task": "calm_down", "mood": "good"}, "mood"),
        ({"intervention_text": "x", "task": "calm_down", "outcome": "great"}, "outcome"),
        ({"intervention_text": "x", "task": "calm_down", "metadata": {"a": [1]}}, "metadata.a"),
        (["not", "an", "object"], "body"),
    ],
)
def test_invalid_input_is_422_naming_the_field(
    client: TestClient, user_id: str, body: object, field: str
) -> None:
    response = client.post(f"/v1/users/{user_id}/interventions", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_bad_query_parameters_are_422(client: TestClient, user_id: str) -> None:
    path = f"/v1/users/{user_id}/interventions/search"
    assert client.get(path).json()["field"] == "q"
    assert client.get(path, params={"q": "x", "k": "many"}).json()["field"] == "k"
    assert client.get(path, params={"q": "x", "k": 0}).json()["field"] == "k"
    assert client.get(path, params={"q": "x", "outcome": "great"}).status_code == 422


def test_health_and_metrics(client: TestClient, user_id: str) -> None:
    client.post(f"/v1/users/{user_id}/interventions", json={"intervention_text": "x", "task": "t"})
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "healthy"
    assert client.get("/readyz").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "memcore_operations_total{backend=" in metrics.text
    assert 'operation="record_intervention"' in metrics.text
    assert 'memcore_health_status{component="service"} 0.0' in metrics.text


def test_an_unavailable_store_is_503_with_retry_after() -> None:
    async def down_memory() -> MemoryService:
        memory = MemoryService(DownStore(down=False), HashingEmbedder(dimension=16))
        await memory.start()
        memory.store.inner.down = True  # type: ignore[attr-defined]
        return memory

    with TestClient(http.create_app(down_memory)) as client:
        response = client.get("/v1/users/u1/interventions/search", params={"q": "x"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert client.get("/healthz").status_code == 503
        assert client.get("/metrics").status_code == 404  # built without metrics
