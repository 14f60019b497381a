"""What happened after the agent intervened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class Outcome(str, Enum):
    """The result of an intervention, as a coaching agent observes it.

    - ``task_completed``: the user did the task the intervention aimed at.
    - ``partial_progress``: the user moved toward the task without finishing it.
    - ``task_abandoned``: the user gave up on the task.
    - ``user_resisted``: the user pushed back on the intervention itself.
    - ``user_engaged``: the user responded positively, with no task result yet.
    - ``no_response``: the user did not react.
    - ``escalated``: the situation was handed to a human or another flow.
    - ``unknown``: not observed yet (the default; update it when the outcome is known).
    """

    TASK_COMPLETED = "task_completed"
    PARTIAL_PROGRESS = "partial_progress"
    TASK_ABANDONED = "task_abandoned"
    USER_RESISTED = "user_resisted"
    USER_ENGAGED = "user_engaged"
    NO_RESPONSE = "no_response"
    ESCALATED = "escalated"
    UNKNOWN = "unknown"


class RecordKind(str, Enum):
    """The two kinds of memory a user has."""

    INTERVENTION = "intervention"
    REFLECTION = "reflection"


@dataclass(frozen=True, slots=True)
class OutcomeChange:
    """One outcome an update set on an intervention, and when (see ``outcome_history``)."""

    outcome: Outcome
    at: datetime
