"""The demo: a coaching agent's memories for three users, then "what worked?" searches."""

from __future__ import annotations

from datetime import timedelta

from memcore.domain import Intervention, Outcome, SearchHit, utcnow
from memcore.service import MemoryService

DEMO_USERS = ("demo-ana", "demo-ben", "demo-chen")

# (task, context, what the agent said, outcome) — the same situations for every user,
# with different outcomes, so each user's search shows their own history.
_SCRIPT = (
    (
        "calm_down",
        "user says they are anxious before a job interview",
        "Let's do two minutes of box breathing: in for four, hold for four, out for four.",
        (Outcome.TASK_COMPLETED, Outcome.USER_RESISTED, Outcome.TASK_COMPLETED),
    ),
    (
        "calm_down",
        "user is stressed about a presentation tomorrow",
        "Try naming five things you can see around you right now.",
        (Outcome.NO_RESPONSE, Outcome.TASK_COMPLETED, Outcome.PARTIAL_PROGRESS),
    ),
    (
        "daily_walk",
        "user feels low energy after lunch",
        "How about a ten minute walk around the block before your next meeting?",
        (Outcome.TASK_COMPLETED, Outcome.TASK_ABANDONED, Outcome.USER_ENGAGED),
    ),
    (
        "daily_walk",
        "user is working late and skipped exercise",
        "Even a five minute stretch counts. Want to start with your shoulders?",
        (Outcome.PARTIAL_PROGRESS, Outcome.TASK_COMPLETED, Outcome.TASK_COMPLETED),
    ),
    (
        "sleep_routine",
        "user reports scrolling on the phone until 2am",
        "Let's set a phone-down alarm for 11pm and put the charger outside the bedroom.",
        (Outcome.USER_RESISTED, Outcome.TASK_COMPLETED, Outcome.NO_RESPONSE),
    ),
)

QUERY = "the user is nervous before an important meeting"


async def seed(memory: MemoryService) -> None:
    """Record the scripted interventions and one reflection per user (idempotently)."""
    start = utcnow() - timedelta(days=len(_SCRIPT))
    for column, user in enumerate(DEMO_USERS):
        items = [
            {
                "intervention_text": said,
                "task": task,
                "context": context,
                "outcome": outcomes[column],
                "created_at": start + timedelta(days=day),
                "idempotency_key": f"demo:{user}:{day}",
                "metadata": {"channel": "voice"},
            }
            for day, (task, context, said, outcomes) in enumerate(_SCRIPT)
        ]
        recorded = await memory.record_interventions(user, items)
        worked = [r for r in recorded.records if r.outcome is Outcome.TASK_COMPLETED]
        await memory.record_reflection(
            user,
            "Responds well to: " + "; ".join(r.task for r in worked),
            source_ids=[r.id for r in worked],
            idempotency_key=f"demo:{user}:reflection",
        )


async def what_worked(memory: MemoryService, user_id: str) -> list[SearchHit[Intervention]]:
    """The demo's question: completed interventions in situations like :data:`QUERY`."""
    return await memory.search_interventions(
        user_id, QUERY, k=3, filters={"outcome": Outcome.TASK_COMPLETED.value}
    )
