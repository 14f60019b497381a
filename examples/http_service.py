"""memcore over HTTP (Starlette): record, search, health and Prometheus metrics.

Routes (JSON in, JSON out):

- ``POST /v1/users/{user_id}/interventions`` — body: ``intervention_text``, ``task``,
  optional ``context``, ``outcome``, ``metadata``, ``id``, ``idempotency_key``. 201.
- ``POST /v1/users/{user_id}/reflections`` — body: ``text``, optional ``source_ids``,
  ``metadata``, ``idempotency_key``. 201.
- ``GET /v1/users/{user_id}/interventions/search?q=...&k=5&outcome=...&task=...``
  (``outcome`` repeatable) — ``{"hits": [{"score": 0.83, "record": {...}}]}``.
- ``GET /healthz`` (200 unless unhealthy, then 503), ``GET /readyz`` (200 only when
  every check is healthy), ``GET /metrics`` (Prometheus text, health gauges refreshed).

Errors map to what the client does next: ``ValidationError`` 422 (with ``field``),
``NotFoundError`` 404, a retryable error 503 with ``Retry-After``, anything else 500.

    pip install starlette uvicorn
    uvicorn examples.http_service:app --port 8000      # backends from MEMCORE_*

Put authentication in front of it: the user id in the path is trusted as given.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import memcore
from memcore import HealthStatus, MemcoreError, MemoryService, NotFoundError, ValidationError
from memcore.domain.codec import record_to_dict
from memcore.observability import health_to_dict

MemoryFactory = Callable[[], Awaitable[MemoryService]]
INTERVENTION_FIELDS = (
    "task",
    "context",
    "outcome",
    "metadata",
    "id",
    "idempotency_key",
)
REFLECTION_FIELDS = ("source_ids", "metadata", "idempotency_key")


def create_app(open_memory: MemoryFactory | None = None) -> Starlette:
    """The application; ``open_memory`` builds the started service (default: from settings)."""
    factory = open_memory or _connect

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.memory = await factory()
        try:
            yield
        finally:
            await app.state.memory.aclose()

    return Starlette(
        routes=[
            Route("/v1/users/{user_id}/interventions", record_intervention, methods=["POST"]),
            Route("/v1/users/{user_id}/reflections", record_reflection, methods=["POST"]),
            Route("/v1/users/{user_id}/interventions/search", search_interventions),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ],
        exception_handlers={MemcoreError: memcore_error},
        lifespan=lifespan,
    )


async def _connect() -> MemoryService:
    return await memcore.connect()


def _memory(request: Request) -> MemoryService:
    memory: MemoryService = request.app.state.memory
    return memory


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise ValidationError("body", "must be a JSON object") from exc
    if not isinstance(body, dict):
        raise ValidationError("body", "must be a JSON object")
    return body


def _pick(body: dict[str, Any], allowed: tuple[str, ...], required: str) -> dict[str, Any]:
    unknown = sorted(set(body) - {required, *allowed})
    if unknown:
        raise ValidationError(unknown[0], "unknown field")
    if required not in body:
        raise ValidationError(required, "is required")
    return {name: body[name] for name in allowed if name in body}


async def record_intervention(request: Request) -> JSONResponse:
    """``POST /v1/users/{user_id}/interventions``."""
    body = await _body(request)
    fields = _pick(body, INTERVENTION_FIELDS, "intervention_text")
    record = (
        await _memory(request).record_intervention(
            request.path_params["user_id"], body["intervention_text"], **fields
        )
    ).record
    return JSONResponse(record_to_dict(record), status_code=201)


async def record_reflection(request: Request) -> JSONResponse:
    """``POST /v1/users/{user_id}/reflections``."""
    body = await _body(request)
    fields = _pick(body, REFLECTION_FIELDS, "text")
    record = (
        await _memory(request).record_reflection(
            request.path_params["user_id"], body["text"], **fields
        )
    ).record
    return JSONResponse(record_to_dict(record), status_code=201)


async def search_interventions(request: Request) -> JSONResponse:
    """``GET /v1/users/{user_id}/interventions/search?q=...``."""
    params = request.query_params
    if "q" not in params:
        raise ValidationError("q", "is required")
    try:
        k = int(params.get("k", "5"))
    except ValueError as exc:
        raise ValidationError("k", "must be an integer") from exc
    filters: dict[str, Any] = {}
    if outcomes := params.getlist("outcome"):
        filters["outcomes"] = outcomes
    if "task" in params:
        filters["task"] = params["task"]
    hits = await _memory(request).search_interventions(
        request.path_params["user_id"], params["q"], k=k, filters=filters
    )
    return JSONResponse(
        {"hits": [{"score": hit.score, "record": record_to_dict(hit.record)} for hit in hits]}
    )


async def healthz(request: Request) -> JSONResponse:
    """Liveness: the health report; 503 only when unhealthy."""
    report = await _memory(request).health()
    status = 503 if report.status is HealthStatus.UNHEALTHY else 200
    return JSONResponse(health_to_dict(report), status_code=status)


async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 only when every check is healthy."""
    report = await _memory(request).health()
    status = 200 if report.status is HealthStatus.HEALTHY else 503
    return JSONResponse(health_to_dict(report), status_code=status)


async def metrics(request: Request) -> Response:
    """Prometheus text; each scrape refreshes the health gauges first."""
    memory = _memory(request)
    registry = memory.telemetry.metrics
    if registry is None:
        return JSONResponse({"error": "metrics are off (MEMCORE_METRICS__ENABLED)"}, 404)
    registry.record_health(await memory.health())
    return Response(registry.exposition(), media_type=CONTENT_TYPE_LATEST)


async def memcore_error(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001 - Starlette handler signature
    """Map memcore errors to statuses by what the client should do next."""
    if isinstance(exc, ValidationError):
        return JSONResponse({"error": "invalid", "field": exc.field, "message": exc.message}, 422)
    if isinstance(exc, NotFoundError):
        return JSONResponse({"error": "not_found", "message": exc.message}, 404)
    if isinstance(exc, MemcoreError) and exc.retryable:
        return JSONResponse(
            {"error": "unavailable", "message": "memory is unavailable, retry later"},
            503,
            headers={"Retry-After": "1"},
        )
    return JSONResponse({"error": type(exc).__name__}, 500)


app = create_app()
"""The application built from ``MEMCORE_*`` settings, for ``uvicorn examples.http_service:app``."""
