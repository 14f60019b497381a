"""A periodic job: summarise each user's recent interventions into reflections.

For every user (or the ones given), it reads the interventions of the last ``days``
page by page, hands them to a :class:`Summariser`, and records each insight as a
reflection linked to the interventions it came from (``source_ids``). The reflection's
id derives from its user and sources, so running the job twice over the same window
rewrites the same reflections instead of adding copies.

The summariser is pluggable: :class:`OutcomeSummariser` is deterministic (counts what
worked per task), an LLM prompt is the production choice.

    python examples/reflection_job.py --demo          # demo data, in-memory store
    MEMCORE_STORE=redis python examples/reflection_job.py --days 7 --user user-42
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

import memcore
from memcore import Intervention, MemoryService, Outcome, Reflection

WORKED = frozenset({Outcome.TASK_COMPLETED, Outcome.PARTIAL_PROGRESS})
PAGE_SIZE = 200


@dataclass(frozen=True)
class Insight:
    """One thing learned about a user, and the interventions that show it."""

    text: str
    source_ids: tuple[str, ...]


class Summariser(Protocol):
    """Turns one user's interventions (oldest first) into insights."""

    async def summarise(self, user_id: str, interventions: Sequence[Intervention]) -> list[Insight]:
        """The insights, each citing the interventions it is drawn from."""
        ...


class OutcomeSummariser:
    """Per task: how often interventions worked, and the latest one that did. Deterministic."""

    def __init__(self, min_interventions: int = 2) -> None:
        self.min_interventions = min_interventions

    async def summarise(self, user_id: str, interventions: Sequence[Intervention]) -> list[Insight]:  # noqa: ARG002 - the user is not needed to count
        by_task: dict[str, list[Intervention]] = defaultdict(list)
        for item in interventions:
            by_task[item.task].append(item)
        insights = []
        for task, items in sorted(by_task.items()):
            if len(items) < self.min_interventions:
                continue
            worked = [item for item in items if item.outcome in WORKED]
            text = f"For {task}, {len(worked)} of {len(items)} interventions worked."
            if worked:
                text += f' Latest that worked: "{worked[-1].intervention_text}"'
            insights.append(Insight(text=text, source_ids=tuple(item.id for item in items)))
        return insights


async def recent_interventions(
    memory: MemoryService, user_id: str, since: datetime
) -> list[Intervention]:
    """Every intervention of ``user_id`` created at or after ``since``, oldest first."""
    found: list[Intervention] = []
    cursor = None
    while True:
        page = await memory.list(
            user_id,
            filters={"kind": "intervention", "created_after": since},
            limit=PAGE_SIZE,
            cursor=cursor,
        )
        found += [item for item in page.items if isinstance(item, Intervention)]
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


async def reflect(
    memory: MemoryService, user_id: str, summariser: Summariser, since: datetime
) -> list[Reflection]:
    """Record the insights of ``user_id``'s interventions since ``since`` as reflections."""
    interventions = await recent_interventions(memory, user_id, since)
    if not interventions:
        return []
    reflections = []
    for insight in await summariser.summarise(user_id, interventions):
        sources = "\n".join(sorted(insight.source_ids))
        key = hashlib.sha256(f"reflection\n{user_id}\n{sources}".encode()).hexdigest()
        reflections.append(
            (
                await memory.record_reflection(
                    user_id,
                    insight.text,
                    source_ids=insight.source_ids,
                    metadata={"job": "reflection", "since": since.isoformat()},
                    idempotency_key=key,
                )
            ).record
        )
    return reflections


async def run_job(
    memory: MemoryService,
    summariser: Summariser,
    *,
    days: float = 7,
    users: Sequence[str] = (),
    now: datetime | None = None,
) -> dict[str, list[Reflection]]:
    """Reflect over the last ``days`` for ``users`` (default: every user in the store)."""
    since = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    # Operators' listing of user ids is a store call: the service has no cross-user API.
    targets = list(users) or await memory.store.user_ids()
    return {user: await reflect(memory, user, summariser, since) for user in targets}


DEMO = (
    ("Two minutes of box breathing.", "calm_down", Outcome.TASK_COMPLETED),
    ("Name five things you can see.", "calm_down", Outcome.USER_RESISTED),
    ("Breathe in for four, out for six.", "calm_down", Outcome.TASK_COMPLETED),
    ("Lights off at eleven tonight?", "sleep_routine", Outcome.TASK_ABANDONED),
    ("Phone in the kitchen overnight?", "sleep_routine", Outcome.PARTIAL_PROGRESS),
)


async def seed_demo(memory: MemoryService, user_id: str, now: datetime) -> None:
    """Write :data:`DEMO` for ``user_id``, one per hour up to ``now`` (idempotent)."""
    await memory.record_interventions(
        user_id,
        [
            {
                "intervention_text": text,
                "task": task,
                "outcome": outcome,
                "created_at": now - timedelta(hours=len(DEMO) - n),
                "idempotency_key": f"demo-{user_id}-{n}",
            }
            for n, (text, task, outcome) in enumerate(DEMO)
        ],
    )


async def main(argv: Sequence[str] | None = None) -> None:
    """Run the job (after writing demo data for user-42 with ``--demo``); print the reflections."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--user", action="append", default=[], help="repeatable; default: all")
    parser.add_argument("--demo", action="store_true", help="first write demo data for user-42")
    args = parser.parse_args(argv)
    async with memcore.connect() as memory:
        now = datetime.now(timezone.utc)
        if args.demo:
            await seed_demo(memory, "user-42", now)
        results = await run_job(
            memory, OutcomeSummariser(), days=args.days, users=args.user, now=now
        )
        for user, reflections in results.items():
            for reflection in reflections:
                print(f"{user}: {reflection.text} ({len(reflection.source_ids)} sources)")  # noqa: T201 - an example prints


if __name__ == "__main__":
    asyncio.run(main())
