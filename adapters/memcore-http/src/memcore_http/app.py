"""The FastAPI application: ``/v1`` routes behind authentication, and the probes.

- ``/healthz``: liveness; 200 while the process serves.
- ``/readyz``: the service's health report; 200 unless it is unhealthy, then 503.
- ``/metrics``: Prometheus text from the service's own registry (health gauges refreshed).

The service is opened in the lifespan's startup and closed in its shutdown, which
uvicorn awaits after in-flight requests end: ``aclose()`` replays the outbox one last
time, so deferred writes reach a store that is back before the process exits. While
it serves, numpy's BLAS keeps to ``blas_threads`` threads (see the setting).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from threadpoolctl import threadpool_limits

import memcore
from memcore import HealthStatus, MemoryService
from memcore.observability import health_to_dict
from memcore_http.auth import authenticator
from memcore_http.body_limit import BodyLimit
from memcore_http.errors import install_error_handlers
from memcore_http.routes import router
from memcore_http.settings import HttpSettings, load_http_settings

__all__ = ["MemoryFactory", "create_app"]

MemoryFactory = Callable[[], Awaitable[MemoryService]]
"""Opens the started service the app serves (default: ``memcore.connect()`` from settings)."""


async def _connect() -> MemoryService:
    return await memcore.connect()


def create_app(
    settings: HttpSettings | None = None, open_memory: MemoryFactory = _connect
) -> FastAPI:
    """The application for ``settings`` (default: ``MEMCORE_HTTP__*``)."""
    settings = settings or load_http_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with threadpool_limits(settings.blas_threads, user_api="blas"):
            app.state.memory = await open_memory()
            try:
                yield
            finally:
                await app.state.memory.aclose()

    app = FastAPI(
        title="memcore",
        summary="Long-term memory for AI agents; every call acts for its caller's user.",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # the docs UI loads scripts from a CDN; /openapi.json is served
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    app.include_router(router(authenticator(settings)))
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["probes"])
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["probes"])
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["probes"])
    return app


async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "alive"}


async def readyz(request: Request) -> JSONResponse:
    """Readiness: the health report; 503 only when unhealthy (degraded still serves)."""
    memory: MemoryService = request.app.state.memory
    report = await memory.health()
    ready = report.status is not HealthStatus.UNHEALTHY
    body: dict[str, Any] = {"ready": ready, **health_to_dict(report)}
    return JSONResponse(body, HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE)


async def metrics(request: Request) -> Response:
    """Prometheus text; 404 when metrics are off (``MEMCORE_METRICS__ENABLED=false``)."""
    memory: MemoryService = request.app.state.memory
    registry = memory.telemetry.metrics
    if registry is None:
        raise HTTPException(HTTPStatus.NOT_FOUND, "metrics are off")
    registry.record_health(await memory.health())
    return Response(registry.exposition(), media_type=CONTENT_TYPE_LATEST)
