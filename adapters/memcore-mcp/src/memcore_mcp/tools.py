"""The MCP tools, one method of :class:`MemoryTools` and one row of :data:`TOOLS` each.

A tool never takes a user id: :class:`MemoryTools` acts for the user its ``user``
callable names (the server's one user over stdio, the bearer token's over HTTP).
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
    """The tools, acting on ``memory`` for the user ``user()`` names."""

    def __init__(self, memory: MemoryService, user: Callable[[], str]) -> None:
        self.memory = memory
        self.user = user

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
        receipt = await self.memory.record_intervention(
            self.user(), text, task=task, context=context, outcome=outcome, metadata=metadata
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
        filters: dict[str, Any] = {"outcome": outcome, "task": task}
        found = await self.memory.search_interventions(
            self.user(), situation, k, {key: v for key, v in filters.items() if v is not None}
        )
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
        return updated(await self.memory.update_outcome(self.user(), record_id, outcome))

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
        return worked(await self.memory.what_worked(self.user(), situation, task=task, k=k))

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
        receipt = await self.memory.record_reflection(
            self.user(), text, source_ids=source_ids, metadata=metadata
        )
        return Recorded.model_validate({"status": receipt.status, "id": receipt.id})

    @_tool_errors
    async def search_reflections(
        self,
        query: Annotated[str, Field(description="What you want to know about the user.")],
        k: K = 5,
    ) -> ReflectionsFound:
        """Find insights about the user related to a question or situation."""
        found = await self.memory.search_reflections(self.user(), query, k)
        return reflections_found(found)

    @_tool_errors
    async def forget_me(
        self,
        confirm: Annotated[
            bool, Field(description="Must be true: the user asked to delete everything.")
        ],
    ) -> Forgotten:
        """Delete every memory of the user. Only when the user explicitly asks for it."""
        if not confirm:
            raise ValidationError("confirm", "must be true; nothing was deleted")
        return Forgotten(deleted=await self.memory.forget_user(self.user()))


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
