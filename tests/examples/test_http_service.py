from __future__ import annotations

import httpx
import pytest

from conftest import load_example
from memcore_http import HttpSettings, create_app

http = load_example("http_service")


async def test_the_example_records_updates_and_finds_what_worked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await http.main() == ["Two minutes of box breathing.", "List five things you can see."]
    out = capsys.readouterr().out
    assert out.startswith("201 stored\n201 stored\n")
    assert out.endswith("\ncalm_down: 1 of 2 completed\n")


async def test_without_its_key_nothing_is_served() -> None:
    app = create_app(HttpSettings(auth="api_key", api_keys={http.API_KEY: "user-42"}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://memcore") as client,
    ):
        refused = await client.post("/v1/interventions/search", json={"query": "x"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthorized"
