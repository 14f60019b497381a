"""Each ``/v1`` route against a real server: what it answers, with which status."""

from __future__ import annotations

from typing import Any

import httpx

from conftest import Server

BREATHING = {
    "intervention_text": "Two minutes of box breathing.",
    "task": "calm_down",
    "context": "anxious before an interview",
    "outcome": "task_completed",
    "metadata": {"channel": "voice", "turn": 3, "score": 0.5, "first": True},
}


def record(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/interventions", json={**BREATHING, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "stored"
    return body["records"][0]  # type: ignore[no-any-return]


def test_a_recorded_intervention_comes_back_whole(alice: httpx.Client) -> None:
    written = record(alice)
    assert written["kind"] == "intervention"
    assert written["metadata"] == BREATHING["metadata"]
    assert "user_id" not in written
    fetched = alice.get(f"/v1/records/{written['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == written


def test_search_finds_by_situation_and_filters(alice: httpx.Client) -> None:
    kept = record(alice)
    record(alice, intervention_text="List five things you see.", outcome="user_resisted")
    found = alice.post(
        "/v1/interventions/search",
        json={"query": "nervous before an interview", "k": 3,
              "filters": {"outcome": "task_completed", "metadata": {"channel": "voice"}}},
    )  # fmt: skip
    assert found.status_code == 200
    body = found.json()
    assert body["status"] == "complete"
    assert body["complete"] is True
    assert [hit["record"]["id"] for hit in body["hits"]] == [kept["id"]]
    assert -1 <= body["hits"][0]["score"] <= 1
    both = alice.post(
        "/v1/interventions/search",
        json={"query": "nervous", "filters": {"outcomes": ["task_completed", "user_resisted"]}},
    )
    assert len(both.json()["hits"]) == 2


def test_an_outcome_set_later_moves_what_worked(alice: httpx.Client) -> None:
    pending = record(alice, outcome="unknown")
    record(alice, intervention_text="List five things you see.", outcome="user_resisted")
    ask = {"situation": "nervous before an interview", "task": "calm_down", "k": 5}
    before = alice.post("/v1/interventions/what-worked", json=ask).json()
    assert {hit["record"]["id"]: hit["outcome_weight"] for hit in before["hits"]}[
        pending["id"]
    ] == 0.3  # unknown, by default

    updated = alice.put(
        f"/v1/interventions/{pending['id']}/outcome", json={"outcome": "task_completed"}
    )
    assert updated.status_code == 200, updated.text
    changed = updated.json()
    assert (changed["id"], changed["outcome"]) == (pending["id"], "task_completed")
    assert changed["updated_at"] is not None
    assert [c["outcome"] for c in changed["outcome_history"]] == ["task_completed"]
    assert alice.get(f"/v1/records/{pending['id']}").json() == changed

    after = alice.post("/v1/interventions/what-worked", json=ask)
    assert after.status_code == 200
    body = after.json()
    assert (body["status"], body["complete"]) == ("complete", True)
    best = body["hits"][0]
    assert best["record"]["id"] == pending["id"]
    assert best["score"] == best["similarity"] * best["outcome_weight"] * best["recency"]
    assert body["rates"] == [
        {"task": "calm_down", "summary": "calm_down: 1 of 2 completed", "completed": 1,
         "total": 2, "by_outcome": {"task_completed": 1, "user_resisted": 1}},
    ]  # fmt: skip


def test_agent_and_session_scopes_partition_the_callers_memories(alice: httpx.Client) -> None:
    coach = record(alice, agent_id="coach", session_id="monday")
    sleep = record(alice, agent_id="sleep-agent")
    assert (coach["agent_id"], coach["session_id"]) == ("coach", "monday")
    assert alice.get(f"/v1/records/{coach['id']}").json() == coach
    for filters, expected in [
        ({"agent_id": "coach"}, [coach["id"]]),
        ({"session_id": "monday"}, [coach["id"]]),
        ({"agent_id": "sleep-agent"}, [sleep["id"]]),
        ({"agent_id": "nobody"}, []),
    ]:
        found = alice.post(
            "/v1/interventions/search", json={"query": "nervous", "filters": filters}
        )
        assert [hit["record"]["id"] for hit in found.json()["hits"]] == expected, filters
    worked = alice.post(
        "/v1/interventions/what-worked", json={"situation": "nervous", "agent_id": "sleep-agent"}
    )
    assert [hit["record"]["id"] for hit in worked.json()["hits"]] == [sleep["id"]]
    page = alice.get("/v1/records", params={"agent_id": "coach"}).json()
    assert [item["id"] for item in page["items"]] == [coach["id"]]
    hostile = alice.post("/v1/interventions", json={**BREATHING, "agent_id": "*"})
    assert (hostile.status_code, hostile.json()["field"]) == (422, "agent_id")
    forgot = alice.delete("/v1/me", params={"confirm": "true", "agent_id": "coach"})
    assert forgot.json()["deleted"] == 1
    assert [item["id"] for item in alice.get("/v1/records").json()["items"]] == [sleep["id"]]


def test_updating_a_missing_intervention_is_404(alice: httpx.Client) -> None:
    reflection = alice.post("/v1/reflections", json={"text": "Likes short answers."}).json()
    for record_id in ("0" * 32, reflection["records"][0]["id"]):
        response = alice.put(
            f"/v1/interventions/{record_id}/outcome", json={"outcome": "task_completed"}
        )
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_a_batch_is_written_whole_or_not_at_all(alice: httpx.Client) -> None:
    items = [{**BREATHING, "idempotency_key": f"b{n}"} for n in range(3)]
    written = alice.post("/v1/interventions:batch", json={"items": items})
    assert written.status_code == 201
    assert len(written.json()["records"]) == 3
    again = alice.post("/v1/interventions:batch", json={"items": items})
    assert [r["id"] for r in again.json()["records"]] == [
        r["id"] for r in written.json()["records"]
    ]
    bad = alice.post("/v1/interventions:batch", json={"items": [BREATHING, {"task": "t"}]})
    assert bad.status_code == 422
    assert bad.json()["field"] == "items.1.intervention_text"
    assert alice.get("/v1/stats").json()["interventions"] == 3


def test_reflections_are_recorded_and_searched(alice: httpx.Client) -> None:
    source = record(alice)
    written = alice.post(
        "/v1/reflections", json={"text": "Breathing helps before interviews.",
                                 "source_ids": [source["id"]]},
    )  # fmt: skip
    assert written.status_code == 201
    reflection = written.json()["records"][0]
    assert reflection["kind"] == "reflection"
    assert reflection["source_ids"] == [source["id"]]
    found = alice.post("/v1/reflections/search", json={"query": "breathing", "k": 5})
    assert [hit["record"]["id"] for hit in found.json()["hits"]] == [reflection["id"]]


def test_listing_pages_through_every_record_oldest_first(alice: httpx.Client) -> None:
    ids = [record(alice, idempotency_key=f"p{n}")["id"] for n in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "kind": "intervention"}
        if cursor is not None:
            params["cursor"] = cursor
        page = alice.get("/v1/records", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert alice.get("/v1/records", params={"limit": 0}).json()["field"] == "limit"
    assert alice.get("/v1/records", params={"sort": "id"}).json()["field"] == "sort"


def test_delete_and_stats(alice: httpx.Client) -> None:
    first, second = record(alice), record(alice, outcome="no_response")
    assert alice.get("/v1/stats").json() == {
        "interventions": 2,
        "reflections": 0,
        "by_outcome": {"task_completed": 1, "no_response": 1},
    }
    assert alice.delete(f"/v1/records/{first['id']}").json() == {"status": "stored", "deleted": 1}
    assert alice.delete(f"/v1/records/{first['id']}").json()["deleted"] == 0
    missing = alice.get(f"/v1/records/{first['id']}")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert alice.get(f"/v1/records/{second['id']}").status_code == 200


def test_forgetting_the_caller_needs_confirmation(alice: httpx.Client) -> None:
    record(alice)
    refused = alice.delete("/v1/me")
    assert refused.status_code == 422
    assert refused.json()["field"] == "confirm"
    assert alice.get("/v1/stats").json()["interventions"] == 1
    assert alice.delete("/v1/me", params={"confirm": "true"}).json()["deleted"] == 1
    assert alice.get("/v1/stats").json()["interventions"] == 0


def test_the_openapi_schema_describes_routes_without_a_user_id(server: Server) -> None:
    schema = httpx.get(f"{server.url}/openapi.json").json()
    assert {"/v1/interventions", "/v1/interventions:batch", "/v1/records/{record_id}",
            "/v1/me", "/v1/stats", "/v1/interventions/{record_id}/outcome",
            "/v1/interventions/what-worked"} <= set(schema["paths"])  # fmt: skip
    assert "user_id" not in str(schema["paths"])
    assert "user_id" not in str(schema["components"]["schemas"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    written = schema["paths"]["/v1/interventions"]["post"]["responses"]
    assert {"201", "202", "401", "422", "429", "503", "507"} <= set(written)
    update = schema["paths"]["/v1/interventions/{record_id}/outcome"]["put"]["responses"]
    assert {"200", "401", "404", "409", "422"} <= set(update)
    worked = schema["paths"]["/v1/interventions/what-worked"]["post"]
    assert worked["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/WhatWorkedIn"
    )
    intervention = schema["components"]["schemas"]["InterventionIn"]
    assert intervention["additionalProperties"] is False
    assert intervention["properties"]["task"]["description"]
