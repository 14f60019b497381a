"""Memory tools for tool-calling agents: one tool per service call, bound to one user.

The user id (and optionally an ``agent_id`` and/or ``session_id`` within the user) is
fixed when the tools are made and is never a tool argument: a model can only ever read
and write the memory of the user (and scope) the application bound it to. Each tool
returns ``(content, artifact)``: a short text for the model, and the memories as
LangChain documents (see :func:`~memcore_langchain._documents.memory_document`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, cast

from langchain_core.documents import Document
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as ArgumentsError

from memcore import (
    MemcoreError,
    MemoryRecord,
    MemoryService,
    NotFoundError,
    Outcome,
    RateLimitedError,
    Receipt,
    Scope,
    SearchResults,
    Status,
    ValidationError,
    validate_user_id,
)
from memcore_langchain import _portal
from memcore_langchain._documents import memory_document

_OUTCOMES = ", ".join(outcome.value for outcome in Outcome)


class _Arguments(BaseModel):
    # An argument the schema does not name (a "user_id", say) is an error, not ignored.
    model_config = ConfigDict(extra="forbid")


class RecordInterventionArguments(_Arguments):
    """Arguments of the ``record_intervention`` tool."""

    intervention_text: str = Field(
        description="What you said or did for the user, in one or two sentences."
    )
    task: str = Field(
        description="Short name of the goal it served, e.g. 'calm_down' or 'start_workout'. "
        "Use the same name every time for the same goal."
    )
    context: str = Field(
        default="", description="The situation: what the user said, felt or was doing."
    )
    outcome: Outcome = Field(
        default=Outcome.UNKNOWN,
        description=f"What happened next, if known; 'unknown' if not yet. One of: {_OUTCOMES}.",
    )


class SearchInterventionsArguments(_Arguments):
    """Arguments of the ``search_interventions`` tool."""

    query: str = Field(
        description="The situation now, in words: what the user says, feels or wants."
    )
    k: int = Field(default=5, ge=1, le=20, description="How many to return, best first.")
    outcomes: list[Outcome] | None = Field(
        default=None,
        description="Only those with one of these outcomes, e.g. ['task_completed'] for what "
        "worked. Leave out to get every outcome.",
    )
    task: str | None = Field(default=None, description="Only those for this exact task name.")


class UpdateOutcomeArguments(_Arguments):
    """Arguments of the ``update_outcome`` tool."""

    record_id: str = Field(
        description="The intervention's id, as record_intervention or search_interventions "
        "returned it."
    )
    outcome: Outcome = Field(
        description=f"How it turned out, now that you know. One of: {_OUTCOMES}."
    )


class WhatWorkedArguments(_Arguments):
    """Arguments of the ``what_worked`` tool."""

    situation: str = Field(
        description="The situation now, in words: what the user says, feels or wants."
    )
    task: str | None = Field(default=None, description="Only those for this exact task name.")
    k: int = Field(default=5, ge=1, le=20, description="How many to return, best first.")


class RecordReflectionArguments(_Arguments):
    """Arguments of the ``record_reflection`` tool."""

    text: str = Field(
        description="The insight, as one self-contained sentence, e.g. 'Breathing exercises "
        "help this user before interviews.'"
    )
    source_ids: list[str] = Field(
        default_factory=list,
        description="Ids of the interventions it was drawn from, as search_interventions "
        "returns them. May be empty.",
    )


class SearchReflectionsArguments(_Arguments):
    """Arguments of the ``search_reflections`` tool."""

    query: str = Field(description="The topic or situation to find insights about.")
    k: int = Field(default=5, ge=1, le=20, description="How many to return, best first.")


class _Owner(NamedTuple):
    """Whose memories the tools touch: a user, within ``scope``."""

    user_id: str
    scope: Scope


async def _record_intervention(
    service: MemoryService, who: _Owner, arguments: RecordInterventionArguments
) -> tuple[str, Document]:
    receipt = await service.record_intervention(
        who.user_id,
        arguments.intervention_text,
        task=arguments.task,
        context=arguments.context,
        outcome=arguments.outcome,
        agent_id=who.scope.agent_id,
        session_id=who.scope.session_id,
    )
    return _stored(receipt)


async def _search_interventions(
    service: MemoryService, who: _Owner, arguments: SearchInterventionsArguments
) -> tuple[str, list[Document]]:
    filters: dict[str, Any] = {}
    if arguments.outcomes:
        filters["outcomes"] = arguments.outcomes
    if arguments.task is not None:
        filters["task"] = arguments.task
    hits = await service.search_interventions(
        who.user_id, arguments.query, arguments.k, who.scope.narrow(filters)
    )
    return _found("interventions", hits)


async def _update_outcome(
    service: MemoryService, who: _Owner, arguments: UpdateOutcomeArguments
) -> tuple[str, Document]:
    record = await who.scope.update_outcome(
        service, who.user_id, arguments.record_id, arguments.outcome
    )
    said = f"Outcome of intervention {record.id} set to {record.outcome.value}."
    return said, memory_document(record)


async def _what_worked(
    service: MemoryService, who: _Owner, arguments: WhatWorkedArguments
) -> tuple[str, list[Document]]:
    answer = await service.what_worked(
        who.user_id,
        arguments.situation,
        task=arguments.task,
        k=arguments.k,
        agent_id=who.scope.agent_id,
        session_id=who.scope.session_id,
    )
    documents = []
    for hit in answer.hits:
        document = memory_document(hit.record, round(hit.score, 3))
        document.metadata.update(
            similarity=round(hit.similarity, 3),
            outcome_weight=hit.outcome_weight,
            recency=round(hit.recency, 3),
        )
        documents.append(document)
    content = _listed(documents, "What worked for this user, best first", "past interventions")
    if answer.rates:
        content += f" Outcomes per task: {'; '.join(map(str, answer.rates))}."
    return content + _degraded(answer.status is not Status.COMPLETE), documents


async def _record_reflection(
    service: MemoryService, who: _Owner, arguments: RecordReflectionArguments
) -> tuple[str, Document]:
    receipt = await service.record_reflection(
        who.user_id,
        arguments.text,
        source_ids=arguments.source_ids,
        agent_id=who.scope.agent_id,
        session_id=who.scope.session_id,
    )
    return _stored(receipt)


async def _search_reflections(
    service: MemoryService, who: _Owner, arguments: SearchReflectionsArguments
) -> tuple[str, list[Document]]:
    hits = await service.search_reflections(
        who.user_id, arguments.query, arguments.k, who.scope.narrow()
    )
    return _found("reflections", hits)


def _stored(receipt: Receipt[MemoryRecord]) -> tuple[str, Document]:
    record = receipt.record
    if receipt.deferred:
        said = f"Deferred {record.kind.value} {record.id}: memory is unavailable right now; it "
        said += "is kept and will be stored when memory is back (not searchable until then)."
    else:
        said = f"Stored {record.kind.value} {record.id}."
    return said, memory_document(record)


def _found(noun: str, hits: SearchResults[Any]) -> tuple[str, list[Document]]:
    documents = [memory_document(hit.record, round(hit.score, 3)) for hit in hits]
    content = _listed(documents, f"{noun.capitalize()} found, most similar first", noun)
    return content + _degraded(not hits.complete), documents


def _listed(documents: list[Document], heading: str, noun: str) -> str:
    if not documents:
        return f"No {noun} found."
    found = [{"id": doc.id, "text": doc.page_content, **doc.metadata} for doc in documents]
    return f"{heading}: {json.dumps(found)}"


def _degraded(incomplete: bool) -> str:
    return " Memory is degraded right now: some may be missing." if incomplete else ""


class _Tool(NamedTuple):
    name: str
    description: str
    arguments: type[_Arguments]
    call: Callable[[MemoryService, _Owner, Any], Awaitable[tuple[str, Any]]]


_TOOLS = (
    _Tool(
        "record_intervention",
        "Save in long-term memory something you just said or did for the user (an "
        "intervention): the task it served, the situation, and the outcome if known (else "
        "set it later with update_outcome). Save each meaningful suggestion, so that later "
        "you can look up what worked for this user.",
        RecordInterventionArguments,
        _record_intervention,
    ),
    _Tool(
        "search_interventions",
        "Look up what you said or did for this user before in situations like the current "
        "one, most similar first, each with its task, context and outcome. Use it before "
        "suggesting something: repeat what worked, avoid what did not.",
        SearchInterventionsArguments,
        _search_interventions,
    ),
    _Tool(
        "update_outcome",
        "Set the outcome of an intervention you recorded earlier, once you know how it went "
        "(the user says it helped, or did not). Keeps the earlier outcomes as history; "
        "what_worked ranks by outcome, so update it whenever you learn one.",
        UpdateOutcomeArguments,
        _update_outcome,
    ),
    _Tool(
        "what_worked",
        "Ask what helped this user before in situations like the current one: past "
        "interventions ranked by similarity and outcome (completed above engaged above "
        "resisted or abandoned), each with its score, and per task how often it worked "
        "(e.g. 'calm_down: 4 of 5 completed'). Use it before suggesting something.",
        WhatWorkedArguments,
        _what_worked,
    ),
    _Tool(
        "record_reflection",
        "Save in long-term memory an insight about this user (a reflection) that you drew "
        "from past interventions, so that you can recall it in later conversations.",
        RecordReflectionArguments,
        _record_reflection,
    ),
    _Tool(
        "search_reflections",
        "Look up insights saved earlier about this user, most relevant to a topic first.",
        SearchReflectionsArguments,
        _search_reflections,
    ),
)


def memory_tools(
    service: MemoryService,
    user_id: str,
    *,
    agent_id: str | None = None,
    session_id: str | None = None,
) -> list[BaseTool]:
    """The memory tools of ``user_id``: record and search interventions and reflections,
    update an intervention's outcome, and ask what worked. With ``agent_id`` and/or
    ``session_id`` they keep to that scope of the user: records carry it, searches and
    what_worked see only it, and an intervention outside it is not found.

    Bind one set per user (per request, in a server) and give it to a tool-calling agent,
    e.g. ``langchain.agents.create_agent(model, memory_tools(memory, "user-42"))``. Each
    tool works sync and async; a memcore error (bad input, store down, rate limit) comes
    back to the model as a tool error message, never as an exception.
    """
    who = _Owner(validate_user_id(user_id), Scope(agent_id, session_id))
    return [_make(tool, service, who) for tool in _TOOLS]


def _make(tool: _Tool, service: MemoryService, who: _Owner) -> BaseTool:
    async def run(arguments: dict[str, Any]) -> tuple[str, Any]:
        try:
            return await tool.call(service, who, tool.arguments(**arguments))
        except MemcoreError as exc:
            raise ToolException(_explain(exc)) from exc

    async def call(**arguments: Any) -> tuple[str, Any]:
        return await _portal.call(service, run(arguments))

    def call_sync(**arguments: Any) -> tuple[str, Any]:
        return _portal.run(run(arguments))

    return StructuredTool(
        name=tool.name,
        description=tool.description,
        args_schema=tool.arguments,
        func=call_sync,
        coroutine=call,
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=_invalid_arguments,
    )


def _explain(exc: MemcoreError) -> str:
    if isinstance(exc, ValidationError):
        return f"Invalid input: {exc.message}. Correct it and call the tool again."
    if isinstance(exc, NotFoundError):
        return f"Not found: {exc.message} for this user. Use an id a tool gave you."
    if exc.retryable or isinstance(exc, RateLimitedError):
        return f"Memory is unavailable right now ({exc.message}). Go on without it."
    return f"Memory failed: {exc.message}."


def _invalid_arguments(exc: Exception) -> str:
    # The argument schemas above are pydantic v2 models: their errors are v2 errors.
    errors = cast("ArgumentsError", exc).errors()
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
    return f"Invalid arguments: {problems}. Correct them and call the tool again."
