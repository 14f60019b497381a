"""Hostile bodies get a 4xx with the stable error body, store nothing, and the server lives."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from conftest import Server

OK = {"intervention_text": "x", "task": "t"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "t"}, "intervention_text"),
        ({**OK, "mood": "good"}, "mood"),
        ({**OK, "task": 7}, "task"),
        ({**OK, "outcome": "great"}, "outcome"),
        ({**OK, "metadata": {"a": [1]}}, "metadata.a"),
        ({**OK, "metadata": {"a": {"b": 1}}}, "metadata.a"),
        ({**OK, "metadata": "x"}, "metadata"),
        ({**OK, "created_at": "yesterday"}, "created_at"),
        ({**OK, "id": "../../etc"}, "id"),
        ({**OK, "intervention_text": "x" * 8_001}, "intervention_text"),
        ({**OK, "task": ""}, "task"),
        ({**OK, "user_id": "user-1"}, "user_id"),
        (["not", "an", "object"], "body"),
        ("a string", "body"),
        (None, "body"),
    ],
)
def test_bad_interventions_are_422_naming_the_field(
    alice: httpx.Client, body: object, field: str
) -> None:
    response = alice.post("/v1/interventions", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid"
    assert response.json()["field"] == field
    assert alice.get("/v1/stats").json()["interventions"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": "x", "k": "5"}, "k"),
        ({"query": "x", "k": 5.0}, "k"),
        ({"query": "x", "k": True}, "k"),
        ({"query": "x", "k": 0}, "k"),
        ({"query": "x", "k": 10**30}, "k"),
        ({"query": 1}, "query"),
        ({"query": "x", "filters": {"outcome": "great"}}, "filters.outcome"),
        ({"query": "x", "filters": {"mood": 1}}, "filters.mood"),
        ({"query": "x", "filters": {"outcome": "no_response", "outcomes": []}}, "filters.outcome"),
    ],
)
def test_bad_searches_are_422_naming_the_field(
    alice: httpx.Client, body: object, field: str
) -> None:
    response = alice.post("/v1/interventions/search", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "great"}, "outcome"),
        ({}, "outcome"),
        ({"outcome": "task_completed", "task": "t"}, "task"),
        ({"outcome": "task_completed", "user_id": "user-1"}, "user_id"),
        (["task_completed"], "body"),
    ],
)
def test_bad_outcome_updates_are_422_and_change_nothing(
    alice: httpx.Client, body: object, field: str
) -> None:
    written = alice.post("/v1/interventions", json=OK).json()["records"][0]
    response = alice.put(f"/v1/interventions/{written['id']}/outcome", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert alice.get(f"/v1/records/{written['id']}").json() == written


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "situation"),
        ({"situation": ""}, "situation"),
        ({"situation": 7}, "situation"),
        ({"situation": "x", "k": 0}, "k"),
        ({"situation": "x", "k": "5"}, "k"),
        ({"situation": "x", "outcome": "task_completed"}, "outcome"),
        ({"situation": "x", "task": ""}, "task"),
        ({"situation": "x", "agent_id": "coach*"}, "agent_id"),
    ],
)
def test_bad_what_worked_questions_are_422_naming_the_field(
    alice: httpx.Client, body: object, field: str
) -> None:
    response = alice.post("/v1/interventions/what-worked", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


@pytest.mark.parametrize(
    "raw",
    [
        b'{"intervention_text": "x", "task": "t", "metadata": {"a": NaN}}',
        b'{"intervention_text": "x", "task": "t", "metadata": {"a": Infinity}}',
        b'{"intervention_text": "x", "task": "t", "metadata": {"a": -1e999}}',
        b'{"intervention_text": "x", "task": "t"',
        b'{"intervention_text": "\xff\xfe", "task": "t"}',
        b'{"intervention_text": "\\ud800", "task": "t"}',
        b"\x00\x00\x00{",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    ],
    ids=[
        "nan",
        "infinity",
        "overflow",
        "truncated",
        "invalid-utf8",
        "lone-surrogate",
        "nul",
        "deep-array",
        "deep-object",
    ],
)
def test_malformed_json_is_refused(alice: httpx.Client, raw: bytes) -> None:
    response = alice.post(
        "/v1/interventions", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in {400, 422}, response.text
    assert response.json()["error"] == "invalid"
    assert alice.get("/v1/stats").json()["interventions"] == 0


def test_a_body_over_the_limit_is_413_before_it_is_read(alice: httpx.Client) -> None:
    huge = json.dumps({**OK, "context": "x" * 1_100_000}).encode()
    response = alice.post(
        "/v1/interventions", content=huge, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_a_streamed_body_is_cut_off_at_the_limit(alice: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"intervention_text": "x", "task": "t", "context": "'
        for _ in range(2_000):
            yield b"x" * 1_000
        yield b'"}'

    response = alice.post(
        "/v1/interventions", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_unknown_routes_and_methods_keep_the_error_body(
    server: Server, alice: httpx.Client
) -> None:
    assert alice.get("/v1/nothing").json()["error"] == "not_found"
    assert alice.put("/v1/interventions").json()["error"] == "method_not_allowed"
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "alive"}
