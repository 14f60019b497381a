"""Every error becomes one JSON body (:class:`~memcore_http.models.ErrorOut`) and a status
keyed to what the client does next. This is the one place that mapping lives.

==========================================  ======  ================
error                                       status  ``error``
==========================================  ======  ================
memcore ``ValidationError``, bad body       422     ``invalid``
missing or unknown credential               401     ``unauthorized``
``NotFoundError``, unknown route            404     ``not_found``
``ConflictError`` (an update kept racing)   409     ``conflict``
body over ``max_body_bytes``                413     ``too_large``
``RateLimitedError``                        429     ``rate_limited``
``CircuitOpenError``, any retryable error   503     ``unavailable``
``ConfigurationError``, schema mismatch     500     ``misconfigured``
anything else                               500     ``internal``
==========================================  ======  ================

429 and 503 carry ``Retry-After`` (whole seconds, at least 1) and ``retry_after``.
A 500's message says nothing of the cause; the server logs it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from memcore import (
    CircuitOpenError,
    ConfigurationError,
    ConflictError,
    MemcoreError,
    NotFoundError,
    RateLimitedError,
    SchemaMismatchError,
    StoreFullError,
    ValidationError,
)
from memcore_http.models import ErrorOut

__all__ = ["install_error_handlers"]

logger = logging.getLogger("memcore.http")

_MEMCORE_ERRORS: tuple[tuple[type[MemcoreError], HTTPStatus, str], ...] = (
    (ValidationError, HTTPStatus.UNPROCESSABLE_ENTITY, "invalid"),
    (NotFoundError, HTTPStatus.NOT_FOUND, "not_found"),
    (ConflictError, HTTPStatus.CONFLICT, "conflict"),
    (RateLimitedError, HTTPStatus.TOO_MANY_REQUESTS, "rate_limited"),
    (CircuitOpenError, HTTPStatus.SERVICE_UNAVAILABLE, "unavailable"),
    (StoreFullError, HTTPStatus.INSUFFICIENT_STORAGE, "store_full"),
    (ConfigurationError, HTTPStatus.INTERNAL_SERVER_ERROR, "misconfigured"),
    (SchemaMismatchError, HTTPStatus.INTERNAL_SERVER_ERROR, "misconfigured"),
)
_HTTP_CODES = {
    HTTPStatus.BAD_REQUEST: "invalid",
    HTTPStatus.UNAUTHORIZED: "unauthorized",
    HTTPStatus.NOT_FOUND: "not_found",
    HTTPStatus.METHOD_NOT_ALLOWED: "method_not_allowed",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "too_large",
}
_INTERNAL = "internal error (logged by the server)"


def _respond(status: int, body: ErrorOut, headers: Mapping[str, str] | None = None) -> JSONResponse:
    headers = dict(headers or {})
    if body.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(body.retry_after)))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _status_of(exc: MemcoreError) -> tuple[HTTPStatus, str]:
    for kind, status, code in _MEMCORE_ERRORS:
        if isinstance(exc, kind):
            return status, code
    if exc.retryable:
        return HTTPStatus.SERVICE_UNAVAILABLE, "unavailable"
    return HTTPStatus.INTERNAL_SERVER_ERROR, "internal"


async def _memcore_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MemcoreError)  # noqa: S101 - registered for MemcoreError only
    status, code = _status_of(exc)
    retry_after = getattr(exc, "retry_after", 1.0 if exc.retryable else None)
    if status is HTTPStatus.INTERNAL_SERVER_ERROR:
        logger.error("request failed: %s", type(exc).__name__, exc_info=exc)
    message = _INTERNAL if code == "internal" else exc.message
    field = exc.field if isinstance(exc, ValidationError) else None
    return _respond(
        status, ErrorOut(error=code, message=message, field=field, retry_after=retry_after)
    )


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    first = exc.errors()[0]
    where = [str(part) for part in first["loc"][1:]]  # past "body", "query" or "path"
    field = ".".join(where) or str(first["loc"][0])
    return _respond(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        ErrorOut(error="invalid", message=f"{field}: {first['msg']}", field=field),
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101
    code = _HTTP_CODES.get(HTTPStatus(exc.status_code), "http_error")
    field = "body" if exc.status_code == HTTPStatus.BAD_REQUEST else None
    body = ErrorOut(error=code, message=str(exc.detail), field=field)
    return _respond(exc.status_code, body, exc.headers)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("request failed: %s", type(exc).__name__, exc_info=exc)
    return _respond(HTTPStatus.INTERNAL_SERVER_ERROR, ErrorOut(error="internal", message=_INTERNAL))


def install_error_handlers(app: FastAPI) -> None:
    """Give ``app`` the mapping above."""
    app.add_exception_handler(MemcoreError, _memcore_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
