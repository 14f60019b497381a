"""memcore over HTTP: the packaged service (``agent-memcore-http``), each call bound to a user.

In production, run it as a process; every request carries an API key, and the key
(never a path or a body) says which user's memories the request may touch::

    pip install 'agent-memcore[http]'
    export MEMCORE_HTTP__AUTH=api_key MEMCORE_HTTP__API_KEYS='{"<a long random key>": "user-42"}'
    memcore serve      # then: curl -H 'Authorization: Bearer <key>' localhost:8080/v1/stats

This script builds the same application in-process (as you would to mount it in your
own ASGI app), records two interventions as ``user-42``, sets the outcome of one once it
is known, and asks what worked::

    python examples/http_service.py
"""

from __future__ import annotations

import asyncio

import httpx

from memcore_http import HttpSettings, create_app

API_KEY = "example-key-of-user-42-0123456789"


async def main() -> list[str]:
    """Record two interventions, update an outcome, ask what worked; returns the texts."""
    app = create_app(HttpSettings(auth="api_key", api_keys={API_KEY: "user-42"}))
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with (
        app.router.lifespan_context(app),  # opens the service (MEMCORE_* settings), then closes it
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://memcore", headers=headers
        ) as client,
    ):
        ids = []
        for text, outcome in [
            ("Two minutes of box breathing.", "unknown"),  # not known yet
            ("List five things you can see.", "user_resisted"),
        ]:
            written = await client.post(
                "/v1/interventions",
                json={"intervention_text": text, "task": "calm_down", "outcome": outcome,
                      "context": "anxious before a job interview"},
            )  # fmt: skip
            print(written.status_code, written.json()["status"])  # noqa: T201 - 201 stored, 202 deferred
            ids.append(written.json()["records"][0]["id"])
        # Later, the user says the breathing helped.
        await client.put(f"/v1/interventions/{ids[0]}/outcome", json={"outcome": "task_completed"})
        worked = (
            await client.post(
                "/v1/interventions/what-worked",
                json={"situation": "nervous before a meeting", "task": "calm_down"},
            )
        ).json()
        for hit in worked["hits"]:
            record = hit["record"]
            print(f"{hit['score']:.2f} {record['outcome']}: {record['intervention_text']}")  # noqa: T201 - an example prints
        print(*(rate["summary"] for rate in worked["rates"]))  # noqa: T201 - an example prints
    return [hit["record"]["intervention_text"] for hit in worked["hits"]]


if __name__ == "__main__":
    asyncio.run(main())
