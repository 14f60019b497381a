"""A scope within a user (an agent and/or a session) that an integration is bound to.

The MCP server and the LangChain adapter act for one user and, optionally, one
``agent_id`` and/or ``session_id``: writes carry the scope, searches, listings and
forgetting stay inside it, and a record outside it is "not found".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from memcore.domain import Intervention, MemoryRecord, Outcome, SearchFilter
from memcore.validation import validate_scope

if TYPE_CHECKING:
    from memcore.service import MemoryService

__all__ = ["Scope"]


@dataclass(frozen=True)
class Scope:
    """``agent_id`` and/or ``session_id`` (each ``None``: not bound), checked by
    :func:`~memcore.validation.validate_scope`; ``Scope()`` is the whole user.
    """

    agent_id: str | None = None
    session_id: str | None = None

    def __post_init__(self) -> None:
        agent_id, session_id = validate_scope(self.agent_id, self.session_id)
        object.__setattr__(self, "agent_id", agent_id)
        object.__setattr__(self, "session_id", session_id)

    @property
    def fields(self) -> dict[str, str]:
        """The bound scopes, as the keyword arguments and filters of the service."""
        given = {"agent_id": self.agent_id, "session_id": self.session_id}
        return {name: value for name, value in given.items() if value is not None}

    @overload
    def narrow(self, filters: SearchFilter) -> SearchFilter: ...
    @overload
    def narrow(self, filters: Mapping[str, Any] | None = None) -> dict[str, Any]: ...
    def narrow(
        self, filters: SearchFilter | Mapping[str, Any] | None = None
    ) -> SearchFilter | dict[str, Any]:
        """``filters`` within the scope (its conditions replace any on the same field)."""
        if isinstance(filters, SearchFilter):
            return filters.within(**self.fields)
        held = {*self.fields, *(f"{name}s" for name in self.fields)}  # agent_ids too
        kept = {name: value for name, value in (filters or {}).items() if name not in held}
        return {**kept, **self.fields}

    def holds(self, record: MemoryRecord) -> bool:
        """Whether ``record`` is within the scope."""
        return all(getattr(record, name) == value for name, value in self.fields.items())

    async def update_outcome(
        self, service: MemoryService, user_id: str, record_id: str, outcome: Outcome | str
    ) -> Intervention:
        """:meth:`~memcore.MemoryService.update_outcome` of a record within the scope; one
        outside it raises :class:`~memcore.errors.NotFoundError` and is left as it was
        (the store checks the scope as it writes: one round trip, no read before).
        """
        return await service.update_outcome(user_id, record_id, outcome, **self.fields)

    async def forget(self, service: MemoryService, user_id: str) -> int:
        """Delete the user's records within the scope (every one when it is unbound)."""
        if self.fields:
            return await service.forget(user_id, agent_id=self.agent_id, session_id=self.session_id)
        return await service.forget_user(user_id)
