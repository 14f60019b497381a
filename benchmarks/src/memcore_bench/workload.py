"""A realistic coaching workload: many users, interventions and reflections from templates.

Texts come from templates (what a coaching agent says, in which situation, for which
task); vectors are synthetic but shaped like one person's memories seen by an embedding
model: each user writes about a few topics, so their vectors scatter around a handful of
topic centres of their own. Uniform random vectors (no structure) would be the worst case
of any HNSW index and look like no real user. Everything is seeded: two runs with the same
arguments produce the same workload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from numpy.typing import NDArray

from memcore.domain import Intervention, Outcome, Reflection

TOPICS_PER_USER = 8
SEARCH_OUTCOME = Outcome.TASK_COMPLETED
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
TASKS = ("calm_down", "sleep_routine", "daily_walk", "journaling", "hydration", "focus_block")
SITUATIONS = (
    "user said they feel anxious before {event}",
    "user could not sleep after {event}",
    "user skipped the plan because of {event}",
    "user sounded tired and low on energy after {event}",
    "user asked for help getting started before {event}",
)
EVENTS = ("a job interview", "a long shift", "a family dinner", "an exam", "a call with the boss")
MOVES = (
    "Let's try {n} minutes of box breathing together.",
    "How about a {n}-minute walk around the block?",
    "Write down three things that went well today, just {n} lines.",
    "Put the phone in another room {n} minutes before bed.",
    "Drink a glass of water now and set a reminder in {n} minutes.",
    "Pick one task and work on it for {n} minutes, nothing else.",
)
INSIGHTS = (
    "Short breathing exercises work for them before stressful events.",
    "They resist plans that start late in the evening.",
    "Walking helps more than journaling when they feel low.",
    "Reminders work better than long explanations.",
)
# Outcomes as a coaching agent sees them: most interventions do not complete the task.
_OUTCOME_WEIGHTS = {
    Outcome.TASK_COMPLETED: 0.30,
    Outcome.PARTIAL_PROGRESS: 0.15,
    Outcome.USER_ENGAGED: 0.15,
    Outcome.USER_RESISTED: 0.10,
    Outcome.TASK_ABANDONED: 0.10,
    Outcome.NO_RESPONSE: 0.10,
    Outcome.ESCALATED: 0.05,
    Outcome.UNKNOWN: 0.05,
}


@dataclass(frozen=True)
class Query:
    """One filtered KNN query: a user's new situation, and the exact answer."""

    user: str
    vector: NDArray[np.float32]
    exact: tuple[str, ...]


@dataclass(frozen=True)
class Workload:
    """Interventions (row ``i`` of ``vectors`` for ``interventions[i]``), reflections, queries."""

    dimension: int
    users: tuple[str, ...]
    interventions: list[Intervention]
    vectors: NDArray[np.float32]
    reflections: list[Reflection]
    reflection_vectors: NDArray[np.float32]
    queries: list[Query]
    k: int

    def batches(self, size: int) -> list[tuple[str, slice]]:
        """``(user, rows)`` batches of at most ``size`` interventions of one user each."""
        out: list[tuple[str, slice]] = []
        start = 0
        owners = [record.user_id for record in self.interventions]
        while start < len(owners):
            end = start + 1
            while end < len(owners) and end - start < size and owners[end] == owners[start]:
                end += 1
            out.append((owners[start], slice(start, end)))
            start = end
        return out


def make_workload(
    n: int,
    *,
    users: int,
    dimension: int = 384,
    queries: int = 1_000,
    k: int = 10,
    reflection_share: float = 0.1,
    seed: int = 7,
) -> Workload:
    """``n`` interventions spread over ``users`` (grouped by user), plus reflections and queries."""
    rng = np.random.default_rng(seed)
    names = tuple(f"user-{u:05d}" for u in range(users))
    centres = _unit(rng.standard_normal((users, TOPICS_PER_USER, dimension)))
    owner = np.sort(rng.integers(0, users, n))  # grouped by user, as batches arrive
    topic = rng.integers(0, TOPICS_PER_USER, n)
    noise = rng.standard_normal((n, dimension)) / np.sqrt(dimension)
    vectors = _unit(centres[owner, topic] + noise)
    outcomes = list(_OUTCOME_WEIGHTS)
    picked = rng.choice(len(outcomes), n, p=list(_OUTCOME_WEIGHTS.values()))
    numbers = rng.integers(0, 1_000_000, (n, 4))
    interventions = [
        Intervention(
            id=f"i{i}",
            user_id=names[owner[i]],
            intervention_text=MOVES[numbers[i, 0] % len(MOVES)].format(n=2 + numbers[i, 1] % 9),
            task=TASKS[numbers[i, 2] % len(TASKS)],
            context=SITUATIONS[numbers[i, 3] % len(SITUATIONS)].format(
                event=EVENTS[numbers[i, 1] % len(EVENTS)]
            ),
            outcome=outcomes[picked[i]],
            created_at=START + timedelta(seconds=i),
            metadata={"channel": "voice" if i % 3 else "chat", "lang": "en"},
        )
        for i in range(n)
    ]
    reflections, reflection_vectors = _reflections(rng, interventions, vectors, reflection_share)
    return Workload(
        dimension=dimension,
        users=names,
        interventions=interventions,
        vectors=vectors,
        reflections=reflections,
        reflection_vectors=reflection_vectors,
        queries=_queries(
            rng,
            centres=centres,
            names=names,
            owner=owner,
            vectors=vectors,
            matching=picked == outcomes.index(SEARCH_OUTCOME),
            count=queries,
            k=k,
        ),
        k=k,
    )


def _reflections(
    rng: np.random.Generator,
    interventions: list[Intervention],
    vectors: NDArray[np.float32],
    share: float,
) -> tuple[list[Reflection], NDArray[np.float32]]:
    count = int(len(interventions) * share)
    rows = np.sort(rng.integers(0, len(interventions), count))
    reflections = []
    for number, row in enumerate(rows):
        source = interventions[row]
        reflections.append(
            Reflection(
                id=f"r{number}",
                user_id=source.user_id,
                text=INSIGHTS[number % len(INSIGHTS)],
                source_ids=(source.id,),
                created_at=source.created_at,
            )
        )
    return reflections, np.ascontiguousarray(vectors[rows])


def _queries(
    rng: np.random.Generator,
    *,
    centres: NDArray[np.float32],
    names: tuple[str, ...],
    owner: NDArray[np.int64],
    vectors: NDArray[np.float32],
    matching: NDArray[np.bool_],
    count: int,
    k: int,
) -> list[Query]:
    """Queries near a user's topics; ``exact`` is the true top ``k`` among their matching rows."""
    dimension = centres.shape[-1]
    users = rng.integers(0, len(names), count)
    topics = rng.integers(0, TOPICS_PER_USER, count)
    noise = rng.standard_normal((count, dimension)) / np.sqrt(dimension)
    probes = _unit(centres[users, topics] + noise)
    queries = []
    for user, probe in zip(users.tolist(), probes, strict=True):
        rows = np.flatnonzero((owner == user) & matching)
        best = rows[np.argsort(-(vectors[rows] @ probe), kind="stable")[:k]]
        queries.append(Query(user=names[user], vector=probe, exact=tuple(f"i{r}" for r in best)))
    return queries


def _unit(x: NDArray[np.floating]) -> NDArray[np.float32]:
    return np.ascontiguousarray(x / np.linalg.norm(x, axis=-1, keepdims=True), dtype=np.float32)
