"""The ``/v1`` routes, one row of :data:`ROUTES` each; every one acts for the caller only.

A new use case of the service is one function here and one row in the table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from memcore import MemoryService, Receipt, ValidationError
from memcore_http.auth import Authenticator, caller
from memcore_http.models import (
    DeletedOut,
    ErrorOut,
    FiltersIn,
    InterventionBatchIn,
    InterventionIn,
    InterventionOut,
    ListQuery,
    OutcomeIn,
    PageOut,
    ReflectionIn,
    ReflectionOut,
    SearchIn,
    SearchOut,
    StatsOut,
    WhatWorkedIn,
    WhatWorkedOut,
    WrittenOut,
    intervention_out,
    page_out,
    record_out,
    search_out,
    stats_out,
    what_worked_out,
    written_out,
)

__all__ = ["ROUTES", "RouteSpec", "router"]


async def _memory(request: Request) -> MemoryService:
    memory: MemoryService = request.app.state.memory
    return memory


Memory = Annotated[MemoryService, Depends(_memory)]
User = Annotated[str, Depends(caller)]


def _written(receipt: Receipt[Any], response: Response) -> WrittenOut:
    response.status_code = HTTPStatus.ACCEPTED if receipt.deferred else HTTPStatus.CREATED
    return written_out(receipt)


def _filters(filters: FiltersIn | None) -> dict[str, Any]:
    return {} if filters is None else filters.model_dump(exclude_none=True)


async def record_intervention(
    body: InterventionIn, memory: Memory, user: User, response: Response
) -> WrittenOut:
    """Record one intervention of the caller."""
    return _written(await memory.record_intervention(user, **body.model_dump()), response)


async def record_interventions(
    body: InterventionBatchIn, memory: Memory, user: User, response: Response
) -> WrittenOut:
    """Record many interventions of the caller with one embed and one store call."""
    items = [item.model_dump() for item in body.items]
    return _written(await memory.record_interventions(user, items), response)


async def search_interventions(body: SearchIn, memory: Memory, user: User) -> SearchOut:
    """The caller's interventions nearest to a situation, best first."""
    filters = _filters(body.filters)
    return search_out(await memory.search_interventions(user, body.query, body.k, filters))


async def update_outcome(
    record_id: str, body: OutcomeIn, memory: Memory, user: User
) -> InterventionOut:
    """Set the outcome of one of the caller's interventions, known only now (no new
    embedding; the earlier outcomes stay in ``outcome_history``); 404 when the caller
    has no intervention with this id.
    """
    return intervention_out(await memory.update_outcome(user, record_id, body.outcome))


async def what_worked(body: WhatWorkedIn, memory: Memory, user: User) -> WhatWorkedOut:
    """The caller's past interventions that best fit a situation and helped, best first,
    each with its similarity, outcome weight, recency and score; and per-task rates.
    """
    answer = await memory.what_worked(user, **body.model_dump())
    return what_worked_out(answer)


async def record_reflection(
    body: ReflectionIn, memory: Memory, user: User, response: Response
) -> WrittenOut:
    """Record one reflection of the caller."""
    return _written(await memory.record_reflection(user, **body.model_dump()), response)


async def search_reflections(body: SearchIn, memory: Memory, user: User) -> SearchOut:
    """The caller's reflections nearest to a query, best first."""
    filters = _filters(body.filters)
    return search_out(await memory.search_reflections(user, body.query, body.k, filters))


async def get_record(record_id: str, memory: Memory, user: User) -> InterventionOut | ReflectionOut:
    """One record of the caller; 404 when the caller has none with this id."""
    return record_out(await memory.get(user, record_id))


async def delete_record(record_id: str, memory: Memory, user: User) -> DeletedOut:
    """Delete one record of the caller; ``deleted`` is 0 when there was none."""
    deleted = await memory.delete(user, record_id)
    return DeletedOut(status=deleted.status, deleted=deleted)


async def list_records(query: Annotated[ListQuery, Query()], memory: Memory, user: User) -> PageOut:
    """One page of the caller's records, oldest first."""
    filters = query.model_dump(exclude={"limit", "cursor"}, exclude_none=True)
    return page_out(
        await memory.list(user, filters=filters, limit=query.limit, cursor=query.cursor)
    )


async def stats(memory: Memory, user: User) -> StatsOut:
    """The caller's memories counted by kind and outcome."""
    return stats_out(await memory.stats(user))


async def forget_me(
    memory: Memory,
    user: User,
    confirm: Annotated[bool, Query(description="Must be true: the memories go.")] = False,
    agent_id: Annotated[str | None, Query(description="Only this agent's memories.")] = None,
    session_id: Annotated[str | None, Query(description="Only this session's.")] = None,
) -> DeletedOut:
    """Delete every memory of the caller (``?confirm=true``), or those of one agent or
    session scope (``&agent_id=``, ``&session_id=``).
    """
    if not confirm:
        raise ValidationError("confirm", "must be true to forget memories of the caller")
    if agent_id is None and session_id is None:
        deleted = await memory.forget_user(user)
    else:
        deleted = await memory.forget(user, agent_id=agent_id, session_id=session_id)
    return DeletedOut(status=deleted.status, deleted=deleted)


@dataclass(frozen=True)
class RouteSpec:
    """One route: method, path, handler; ``status`` is its success status, ``errors`` the
    error statuses it may answer besides those of every route.
    """

    method: str
    path: str
    endpoint: Callable[..., Any]
    status: HTTPStatus = HTTPStatus.OK
    errors: tuple[HTTPStatus, ...] = ()


ROUTES = (
    RouteSpec("POST", "/v1/interventions", record_intervention, HTTPStatus.CREATED),
    RouteSpec("POST", "/v1/interventions:batch", record_interventions, HTTPStatus.CREATED),
    RouteSpec("POST", "/v1/interventions/search", search_interventions),
    RouteSpec(
        "PUT",
        "/v1/interventions/{record_id}/outcome",
        update_outcome,
        errors=(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
    ),
    RouteSpec("POST", "/v1/interventions/what-worked", what_worked),
    RouteSpec("POST", "/v1/reflections", record_reflection, HTTPStatus.CREATED),
    RouteSpec("POST", "/v1/reflections/search", search_reflections),
    RouteSpec("GET", "/v1/records", list_records),
    RouteSpec("GET", "/v1/records/{record_id}", get_record, errors=(HTTPStatus.NOT_FOUND,)),
    RouteSpec("DELETE", "/v1/records/{record_id}", delete_record),
    RouteSpec("GET", "/v1/stats", stats),
    RouteSpec("DELETE", "/v1/me", forget_me),
)

_ERRORS = (
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.UNPROCESSABLE_ENTITY,
    HTTPStatus.TOO_MANY_REQUESTS,
    HTTPStatus.SERVICE_UNAVAILABLE,
    HTTPStatus.INSUFFICIENT_STORAGE,
)
_DEFERRED: Mapping[int | str, dict[str, Any]] = {
    HTTPStatus.ACCEPTED: {"model": WrittenOut, "description": "Deferred: in the outbox."}
}


def router(authenticate: Authenticator) -> APIRouter:
    """The routes of :data:`ROUTES`, each behind ``authenticate``."""
    api = APIRouter(tags=["memories"])
    for spec in ROUTES:
        responses: dict[int | str, dict[str, Any]] = {
            status: {"model": ErrorOut, "description": status.phrase}
            for status in (*_ERRORS, *spec.errors)
        }
        if spec.status is HTTPStatus.CREATED:
            responses.update(_DEFERRED)
        api.add_api_route(
            spec.path,
            spec.endpoint,
            methods=[spec.method],
            status_code=spec.status,
            dependencies=[Depends(authenticate)],  # first: the handler's `caller` reads it
            responses=responses,
        )
    return api
