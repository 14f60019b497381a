"""The service calls of a memory's later life: update it, ask what worked, forget it.

:class:`LifecycleCalls` is a part of :class:`~memcore.MemoryService` (its base class):
``update_outcome`` and ``update`` change a stored record in place, embedding it again
only when its embedded text changes; ``what_worked`` answers "what helped this user in
a situation like this" with the ranking of :mod:`memcore.domain.worked`; ``delete``,
``forget`` (one agent or session of a user) and ``forget_user`` remove records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar, cast

from memcore.domain import (
    Intervention,
    MemoryRecord,
    MetadataValue,
    Outcome,
    RecordKind,
    Reflection,
    Removed,
    utcnow,
)
from memcore.domain.worked import WhatWorked
from memcore.errors import ValidationError
from memcore.lifecycle_settings import (
    DuplicatePolicy,
    DuplicateSettings,
    RetentionSettings,
    WhatWorkedSettings,
)
from memcore.observability.operations import observed
from memcore.pipeline import Result
from memcore.usecases import Duplicates
from memcore.validation import (
    Limits,
    validate_created_at,
    validate_filters,
    validate_k,
    validate_record_id,
    validate_record_ids,
    validate_scope,
    validate_text,
    validate_update_values,
    validate_user_id,
)

__all__ = ["LifecycleCalls"]

_INTERVENTION_ONLY = frozenset({"outcome", "task", "context"})
_MAX_TTL = 100 * 365 * 86_400
RecordT = TypeVar("RecordT", Intervention, Reflection)
_CONTENT = ("agent_id", "session_id", "task", "context", "intervention_text")


class LifecycleCalls:
    """``update_outcome``, ``update``, ``what_worked``, ``delete``, ``forget`` and
    ``forget_user`` of :class:`~memcore.MemoryService`.
    """

    # What the service provides.
    limits: Limits
    what_worked_settings: WhatWorkedSettings
    duplicate_settings: DuplicateSettings
    retention: RetentionSettings
    _serve: Callable[..., Awaitable[Result[Any]]]

    @observed("update_outcome", ids_arg="record_id")
    async def update_outcome(
        self,
        user_id: str,
        record_id: str,
        outcome: Outcome | str,
        *,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> Intervention:
        """Set the outcome of ``user_id``'s intervention ``record_id``, known only now.

        One atomic store call, no embedding: the outcome is set, ``updated_at`` is now, and
        the change is appended to ``outcome_history``. Returns the updated intervention;
        raises :class:`~memcore.errors.NotFoundError` if the user has no such intervention,
        or (given ``agent_id`` and/or ``session_id``) none of that agent and/or session:
        the store checks the scope in the same atomic step, so a record of another scope
        is never changed.
        """
        scope = {"agent_id": agent_id, "session_id": session_id}
        updated = await self._update(user_id, record_id, {"outcome": outcome}, scope)
        return cast("Intervention", updated)

    @observed("update", ids_arg="record_id")
    async def update(
        self,
        user_id: str,
        record_id: str,
        *,
        outcome: Outcome | str | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        task: str | None = None,
        context: str | None = None,
        text: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> MemoryRecord:
        """Change some fields of ``user_id``'s record ``record_id``; ``None`` leaves one as it is.

        ``text`` is an intervention's ``intervention_text`` or a reflection's ``text``;
        ``outcome``, ``task`` and ``context`` exist on interventions only. ``metadata``
        replaces the whole mapping. The record is embedded again only when ``text``,
        ``task`` or ``context`` change, and then written only if no other update came
        in meanwhile (else it is read again). Its id, user and ``created_at`` never change;
        ``updated_at`` becomes now and a new outcome is appended to ``outcome_history``.
        ``agent_id`` and ``session_id`` are not changes but conditions, as for
        :meth:`update_outcome`: a record of another scope is not found. Returns the updated
        record; raises :class:`~memcore.errors.NotFoundError` if the user has no such record
        (of that kind and scope).
        """
        given = {
            "outcome": outcome,
            "metadata": metadata,
            "task": task,
            "context": context,
            "text": text,
        }
        values = {name: value for name, value in given.items() if value is not None}
        return await self._update(
            user_id, record_id, values, {"agent_id": agent_id, "session_id": session_id}
        )

    @observed("delete", ids_arg="record_ids")
    async def delete(self, user_id: str, record_ids: str | Sequence[str]) -> Removed:
        """Delete records of ``user_id``; returns how many existed (a :class:`~memcore.Removed`,
        an int with the delete's status). Missing ids are fine.
        """
        user_id = validate_user_id(user_id)
        ids = validate_record_ids([record_ids] if isinstance(record_ids, str) else record_ids)
        deleted: Removed = (await self._serve("delete", user_id, ids=ids)).value
        return deleted

    @observed("forget_user")
    async def forget_user(self, user_id: str) -> Removed:
        """Delete everything of ``user_id``; returns how many records there were (see
        :meth:`delete`).
        """
        user_id = validate_user_id(user_id)
        forgotten: Removed = (await self._serve("forget_user", user_id)).value
        return forgotten

    @observed("forget")
    async def forget(
        self, user_id: str, *, agent_id: str | None = None, session_id: str | None = None
    ) -> Removed:
        """Delete ``user_id``'s records of the agent ``agent_id`` and/or the session
        ``session_id`` (both given: records of both); returns how many (see
        :meth:`delete`). Unscoped records and other scopes keep
        everything. Give at least one scope; :meth:`forget_user` deletes everything.
        """
        user_id = validate_user_id(user_id)
        scope = {"agent_id": agent_id, "session_id": session_id}
        conditions = {name: value for name, value in scope.items() if value is not None}
        if not conditions:
            raise ValidationError("agent_id", "give agent_id or session_id (or call forget_user)")
        filters = validate_filters(conditions, self.limits, prefix="")
        forgotten: Removed = (await self._serve("forget", user_id, filters=filters)).value
        return forgotten

    @observed("what_worked")
    async def what_worked(
        self,
        user_id: str,
        situation: str,
        *,
        task: str | None = None,
        k: int = 5,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> WhatWorked:
        """The ``k`` past interventions of ``user_id`` that best fit ``situation`` and helped.

        The nearest ``candidates`` interventions (of ``task``, ``agent_id`` and
        ``session_id`` only, if given) are ranked by
        ``max(similarity, 0) * outcome weight * recency`` (weights and half-life from
        :class:`~memcore.settings.WhatWorkedSettings`); each hit shows the three factors
        and its score. ``rates`` counts the outcomes of every candidate, per task
        (``str(rate)``: "box breathing: 4 of 5 completed"). The same data gives the same
        answer.
        """
        user_id = validate_user_id(user_id)
        k = validate_k(k, self.limits)
        validate_text(situation, "situation", self.limits.max_text_chars)
        given = {"task": task, "agent_id": agent_id, "session_id": session_id}
        conditions = {name: value for name, value in given.items() if value is not None}
        filters = validate_filters(conditions, self.limits, kind=RecordKind.INTERVENTION, prefix="")
        worked: WhatWorked = (
            await self._serve(
                "what_worked",
                user_id,
                query=situation,
                k=k,
                filters=filters,
                ranking=self.what_worked_settings,
            )
        ).value
        return worked

    def _expiring(self, record: RecordT, ttl: float | timedelta | None) -> RecordT:
        """``record`` expiring ``ttl`` from now (seconds or a timedelta), or after the
        retention of its kind when it has no ``expires_at``.
        """
        if ttl is None:
            if record.expires_at is not None:
                return record
            ttl = self.retention.retention_of(record.kind)
            if ttl is None:
                return record
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float, timedelta)):
            raise ValidationError("ttl", "must be seconds or a timedelta")
        seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
        if not 0 < seconds < _MAX_TTL:
            raise ValidationError("ttl", "must be positive and under a century")
        expires_at = validate_created_at(utcnow() + timedelta(seconds=seconds), "ttl")
        return dataclasses.replace(record, expires_at=expires_at)

    def _duplicates(
        self, user_id: str, policy: DuplicatePolicy | None, fields: dict[str, Any]
    ) -> Duplicates | None:
        """How a new intervention (``fields``) treats a duplicate; unless it is kept, a
        record without an id or idempotency key gets one from its content and scope, so
        the same intervention written at once many times still leaves one record.
        """
        settings = self.duplicate_settings
        policy = settings.policy if policy is None else policy
        if policy not in {"keep", "skip", "merge"}:
            raise ValidationError("on_duplicate", "must be keep, skip or merge")
        if policy == "keep":
            return None
        if fields["id"] is None and fields["idempotency_key"] is None:
            content = [fields[name] for name in _CONTENT]
            fields["idempotency_key"] = "\x1f".join(["duplicate", user_id, *map(str, content)])
        return Duplicates(policy, settings.threshold, self.limits.max_outcome_history)

    async def _update(
        self,
        user_id: str,
        record_id: str,
        given: dict[str, Any],
        scope: Mapping[str, str | None],
    ) -> MemoryRecord:
        user_id = validate_user_id(user_id)
        record_id = validate_record_id(record_id, "record_id")
        agent_id, session_id = validate_scope(scope["agent_id"], scope["session_id"])
        within = {"agent_id": agent_id, "session_id": session_id}
        text = given.pop("text", None)
        kind = RecordKind.INTERVENTION if _INTERVENTION_ONLY & given.keys() else None
        if not given and text is None:
            raise ValidationError("update", "give at least one field to change")
        values = validate_update_values(kind, given, self.limits) if given else {}
        if text is not None:
            values["text"] = validate_text(text, "text", self.limits.max_text_chars)
        updated: MemoryRecord = (
            await self._serve(
                "update",
                user_id,
                record_id=record_id,
                kind=kind,
                values=values,
                history_limit=self.limits.max_outcome_history,
                scope={name: value for name, value in within.items() if value is not None},
            )
        ).value
        return updated
