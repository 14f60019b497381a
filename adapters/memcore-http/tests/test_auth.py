"""Every request acts for the user its credential names, and for nobody else."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import Server, memcore_command, server_env, start_server
from test_routes import record


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-key-of-anyone-at-all"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"X-User-Id": "user-0"},
    ],
)
def test_a_missing_or_unknown_key_is_401(server: Server, headers: dict[str, str]) -> None:
    with server.client(**headers) as client:
        for method, path in [("POST", "/v1/interventions/search"), ("GET", "/v1/records"),
                             ("GET", "/v1/stats"), ("DELETE", "/v1/me"),
                             ("PUT", f"/v1/interventions/{'0' * 32}/outcome"),
                             ("POST", "/v1/interventions/what-worked")]:  # fmt: skip
            response = client.request(method, path, json={"query": "x"})
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["error"] == "unauthorized"


def test_one_users_key_never_reaches_another_users_records(
    alice: httpx.Client, bob: httpx.Client
) -> None:
    mine = record(alice)
    for path in (f"/v1/records/{mine['id']}", f"/v1/records/{mine['id']}?user_id=user-0"):
        assert bob.get(path).status_code == 404
    assert bob.get("/v1/records").json()["items"] == []
    assert bob.get("/v1/stats").json()["interventions"] == 0
    search = bob.post("/v1/interventions/search", json={"query": mine["intervention_text"]})
    assert search.json()["hits"] == []
    assert bob.delete(f"/v1/records/{mine['id']}").json()["deleted"] == 0
    changed = bob.put(f"/v1/interventions/{mine['id']}/outcome", json={"outcome": "no_response"})
    assert changed.status_code == 404
    worked = bob.post("/v1/interventions/what-worked", json={"situation": "anxious"})
    assert worked.json()["hits"] == []
    assert bob.delete("/v1/me", params={"confirm": "true"}).json()["deleted"] == 0
    assert alice.get(f"/v1/records/{mine['id']}").json() == mine


def test_a_user_id_in_the_body_is_refused_not_obeyed(
    alice: httpx.Client, bob: httpx.Client
) -> None:
    mine = record(alice)
    sneaky = bob.post("/v1/interventions/search", json={"query": "x", "user_id": "user-0"})
    assert sneaky.status_code == 422
    assert sneaky.json()["field"] == "user_id"
    written = bob.post(
        "/v1/interventions", json={"intervention_text": "x", "task": "t", "id": mine["id"]}
    )
    assert written.status_code == 201  # the same id is another record: bob's own
    assert alice.get(f"/v1/records/{mine['id']}").json() == mine


@pytest.mark.parametrize(
    "record_id", ["..", "../user-1", "%2e%2e", "*", "a" * 5000, "user-0:abc", "%00"]
)
def test_hostile_record_ids_find_nothing(alice: httpx.Client, record_id: str) -> None:
    response = alice.get(f"/v1/records/{record_id}")
    assert response.status_code in {404, 422}
    assert response.json()["error"] in {"not_found", "invalid"}


def test_trusted_header_mode_takes_the_user_from_the_gateways_header(tmp_path: Path) -> None:
    server = start_server(
        tmp_path, MEMCORE_HTTP__AUTH="trusted_header", MEMCORE_HTTP__TRUSTED_HEADER="X-Auth-User"
    )
    try:
        with server.client(**{"X-Auth-User": "carol"}) as carol:
            assert record(carol)["id"]
            assert carol.get("/v1/stats").json()["interventions"] == 1
        with server.client(**{"X-Auth-User": "dave"}) as dave:
            assert dave.get("/v1/stats").json()["interventions"] == 0
        with server.client() as nobody:
            refused = nobody.get("/v1/stats")
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "X-Auth-User"
        with server.client(**{"X-Auth-User": "*"}) as wildcard:
            assert wildcard.get("/v1/stats").json()["field"] == "user_id"
    finally:
        server.stop()


def test_development_mode_acts_for_its_one_user(tmp_path: Path) -> None:
    server = start_server(tmp_path, MEMCORE_HTTP__AUTH="none", MEMCORE_HTTP__DEV_USER="me")
    try:
        with server.client() as client:
            record(client)
            assert client.get("/v1/stats").json()["interventions"] == 1
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "MEMCORE_HTTP__AUTH"),
        ({"MEMCORE_HTTP__AUTH": "none", "MEMCORE_HTTP__HOST": "0.0.0.0"}, "loopback"),  # noqa: S104
        ({"MEMCORE_HTTP__AUTH": "api_key"}, "MEMCORE_HTTP__API_KEYS"),
        ({"MEMCORE_HTTP__AUTH": "api_key", "MEMCORE_HTTP__API_KEYS": '{"short": "u"}'}, "16"),
        ({"MEMCORE_HTTP__AUTH": "trusted_header"}, "MEMCORE_HTTP__TRUSTED_HEADER"),
        ({"MEMCORE_HTTP__AUTH": "none", "MEMCORE_HTTP__WORKERS": "2"}, "MEMCORE_HTTP__WORKERS"),
        ({"MEMCORE_HTTP__AUHT": "none"}, "did you mean 'MEMCORE_HTTP__AUTH'?"),
    ],
)
def test_the_server_refuses_to_start_without_a_sound_auth_choice(
    tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    done = subprocess.run(  # noqa: S603 - our own command
        memcore_command("serve"),
        env=server_env(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr
