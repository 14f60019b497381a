"""The MCP tools, one method of :class:`MemoryTools` and one row of :data:`TOOLS` each.

A tool never takes a user id or scope: :class:`MemoryTools` acts for the principal its
``principal`` callable names (the process's over stdio, the bearer token's over HTTP):
a user, and if it is bound to one, only that agent's and/or session's memories of
theirs (writes carry the scope; searches, what_worked, update_outcome and forget_me
stay inside it).
Arguments are described for the model; a memcore error comes back as a tool error
(``isError``) with a message the model can act on.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from memcore import MemcoreError, MemoryService, Outcome, ValidationError
from memcore_mcp.results import (
    Forgotten,
    InterventionsFound,
    Recorded,
    ReflectionsFound,
    Updated,
    Worked,
    interventions_found,
    reflections_found,
    updated,
    worked,
)
from memcore_mcp.settings import Principal

__all__ = ["TOOLS", "MemoryTools", "ToolSpec"]

P = ParamSpec("P")
T = TypeVar("T")

K = Annotated[int, Field(description="How many results at most, best first.")]
OutcomeArg = Annotated[
    Outcome,
    Field(description="What happened after the intervention; unknown if not observed yet."),
]
Metadata = Annotated[
    dict[str, str | int | float | bool] | None,
    Field(description="Flat key → value pairs to filter on later, e.g. {'channel': 'voice'}."),
]


def _tool_errors(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Memcore errors become tool errors the model can read and act on."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except ValidationError as exc:
            raise ToolError(f"invalid argument {exc.message}") from exc
        except MemcoreError as exc:
            again = " (temporary: try again later)" if exc.retryable else ""
            raise ToolError(f"{type(exc).__name__}: {exc.message}{again}") from exc

    return call


class MemoryTools:
    """The tools, acting on ``memory`` for the principal ``principal()`` names."""

    def __init__(self, memory: MemoryService, principal: Callable[[], Principal]) -> None:
        self.memory = memory
        self.principal = principal

    @_tool_errors
    async def record_intervention(
        self,
        text: Annotated[str, Field(description="What you said or did for the user.")],
        task: Annotated[str, Field(description="The goal it served, e.g. calm_down.")],
        context: Annotated[str, Field(description="The situation the user was in.")] = "",
        outcome: OutcomeArg = Outcome.UNKNOWN,
        metadata: Metadata = None,
    ) -> Recorded:
        """Remember an intervention you made for the user, so you can later find what worked.

        If its outcome is not known yet, leave it unknown and set it later with
        update_outcome. The context should describe the situation well enough to be
        recognised the next time it comes up.
        """
        who = self.principal()
        receipt = await self.memory.record_intervention(
            who.user_id,
            text,
            task=task,
            context=context,
            outcome=outcome,
            metadata=metadata,
            agent_id=who.scope.agent_id,
            session_id=who.scope.session_id,
        )
        return Recorded.model_validate({"status": receipt.status, "id": receipt.id})

    @_tool_errors
    async def search_interventions(
        self,
        situation: Annotated[str, Field(description="The user's current situation, in words.")],
        k: K = 5,
        outcome: Annotated[
            Outcome | None, Field(description="Only interventions with this outcome.")
        ] = None,
        task: Annotated[str | None, Field(description="Only interventions for this task.")] = None,
    ) -> InterventionsFound:
        """Find the user's past interventions made in situations like this one.

        Filter by outcome=task_completed to see what worked before.
        """
        given: dict[str, Any] = {"outcome": outcome, "task": task}
        who = self.principal()
        filters = who.scope.narrow({key: v for key, v in given.items() if v is not None})
        found = await self.memory.search_interventions(who.user_id, situation, k, filters)
        return interventions_found(found)

    @_tool_errors
    async def update_outcome(
        self,
        record_id: Annotated[
            str,
            Field(description="The id record_intervention or search_interventions gave for it."),
        ],
        outcome: Annotated[Outcome, Field(description="How it turned out, now that you know.")],
    ) -> Updated:
        """Set the outcome of an intervention recorded earlier, once you know how it went.

        Call it when the user tells you (or you see) whether it helped; what_worked ranks
        by outcome. Nothing is embedded again; the previous outcomes are kept as history.
        """
        who = self.principal()
        return updated(await who.scope.update_outcome(self.memory, who.user_id, record_id, outcome))

    @_tool_errors
    async def what_worked(
        self,
        situation: Annotated[str, Field(description="The user's current situation, in words.")],
        task: Annotated[
            str | None, Field(description="Only interventions for this task, e.g. calm_down.")
        ] = None,
        k: K = 5,
    ) -> Worked:
        """What helped this user before in situations like this one, best first.

        Past interventions are ranked by how similar their situation was and how they
        turned out (completed above engaged above resisted or abandoned); each hit shows
        its similarity, outcome weight and score, and ``rates`` says per task how often
        it worked (e.g. 'calm_down: 4 of 5 completed'). Ask before suggesting something.
        """
        who = self.principal()
        return worked(
            await self.memory.what_worked(
                who.user_id,
                situation,
                task=task,
                k=k,
                agent_id=who.scope.agent_id,
                session_id=who.scope.session_id,
            )
        )

    @_tool_errors
    async def record_reflection(
        self,
        text: Annotated[str, Field(description="An insight about the user, in one sentence.")],
        source_ids: Annotated[
            list[str], Field(description="Ids of the interventions it was drawn from.")
        ] = [],  # noqa: B006 - pydantic copies defaults; the schema needs a list here
        metadata: Metadata = None,
    ) -> Recorded:
        """Remember an insight about the user (e.g. 'breathing exercises work before calls')."""
        who = self.principal()
        receipt = await self.memory.record_reflection(
            who.user_id,
            text,
            source_ids=source_ids,
            metadata=metadata,
            agent_id=who.scope.agent_id,
            session_id=who.scope.session_id,
        )
        return Recorded.model_validate({"status": receipt.status, "id": receipt.id})

    @_tool_errors
    async def search_reflections(
        self,
        query: Annotated[str, Field(description="What you want to know about the user.")],
        k: K = 5,
    ) -> ReflectionsFound:
        """Find insights about the user related to a question or situation."""
        who = self.principal()
        found = await self.memory.search_reflections(who.user_id, query, k, who.scope.narrow())
        return reflections_found(found)

    @_tool_errors
    async def forget_me(
        self,
        confirm: Annotated[
            bool, Field(description="Must be true: the user asked to delete everything.")
        ],
    ) -> Forgotten:
        """Delete every memory of the user (of this agent or session, if the server is bound
        to one). Only when the user explicitly asks for it.
        """
        if not confirm:
            raise ValidationError("confirm", "must be true; nothing was deleted")
        who = self.principal()
        return Forgotten(deleted=await who.scope.forget(self.memory, who.user_id))


@dataclass(frozen=True)
class ToolSpec:
    """One tool: the :class:`MemoryTools` method ``name``, its hints, and whether it is
    offered only when ``MEMCORE_MCP__ALLOW_FORGET`` is true.
    """

    name: str
    annotations: ToolAnnotations
    needs_allow_forget: bool = False


_READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)
_WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)

TOOLS = (
    ToolSpec("record_intervention", _WRITES),
    ToolSpec("search_interventions", _READS),
    ToolSpec("update_outcome", _WRITES),
    ToolSpec("what_worked", _READS),
    ToolSpec("record_reflection", _WRITES),
    ToolSpec("search_reflections", _READS),
    ToolSpec(
        "forget_me",
        ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False),
        needs_allow_forget=True,
    ),
)
