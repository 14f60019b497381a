"""A voice agent's turn with long-term memory, which keeps talking when memory is down.

Before it speaks, the agent asks memcore what worked for this user in similar situations
(interventions of the same task whose outcome was ``task_completed``). It speaks (a
template here, your LLM in production). Once the user's reaction is known, it records
the intervention with its outcome, under an id fixed at speaking time, so a retried
write never duplicates it.

Memory never holds the voice up:

- recall has a latency budget; past it the agent speaks without memory;
- ``memcore.connect()`` puts :class:`~memcore.resilience.DegradationPolicy` in front of the store
  (``MEMCORE_DEGRADATION__POLICY=degrade``, the default): while the store is unavailable,
  reads answer empty and writes wait in an outbox that replays when it is back, and the
  circuit breaker makes calls fail fast instead of retrying into the silence;
- any other *retryable* memcore error (the embedder is down) is logged and the turn goes
  on; a non-retryable one (a bug, bad input) is raised.

Run it (in-memory store and hashing embedder unless ``MEMCORE_*`` says otherwise)::

    python examples/voice_agent_bridge.py
    MEMCORE_STORE=redis MEMCORE_EMBEDDER=local python examples/voice_agent_bridge.py
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

import memcore
from memcore import Intervention, MemcoreError, MemoryService, Outcome, new_id
from memcore.resilience import is_retryable

logger = logging.getLogger("examples.voice_agent_bridge")

MemoryState = Literal["ok", "degraded", "unavailable"]
"""How recall went: ``degraded`` means the store may have answered without recent writes."""

WriteResult = Literal["stored", "deferred", "skipped"]
"""``deferred``: in the outbox, replayed when the store is back; ``skipped``: lost."""


@dataclass(frozen=True)
class Turn:
    """What the agent said in one turn, and what it knew when it said it."""

    user_id: str
    task: str
    situation: str
    reply: str
    intervention_id: str
    recalled: tuple[str, ...]
    memory: MemoryState


class ReplyComposer(Protocol):
    """Writes what the agent says; an LLM prompt in production."""

    def compose(self, situation: str, task: str, what_worked: Sequence[Intervention]) -> str:
        """The reply to ``situation``, given interventions that worked before (best first)."""
        ...


class TemplateComposer:
    """Reuses what worked before, else a default line per task. Deterministic."""

    DEFAULTS: ClassVar[dict[str, str]] = {
        "calm_down": "Let's slow down together: breathe in for four, out for six.",
        "sleep_routine": "How about we put the phone away ten minutes earlier tonight?",
    }
    FALLBACK = "Let's take it one small step at a time. What feels doable right now?"

    def compose(self, situation: str, task: str, what_worked: Sequence[Intervention]) -> str:  # noqa: ARG002 - a template ignores the wording
        if what_worked:
            return f"Last time this helped: {what_worked[0].intervention_text} Shall we try it?"
        return self.DEFAULTS.get(task, self.FALLBACK)


class VoiceAgentBridge:
    """Puts memory around the agent's turns: recall before speaking, record after."""

    def __init__(
        self,
        memory: MemoryService,
        composer: ReplyComposer | None = None,
        *,
        recall_budget_s: float = 0.3,
        k: int = 3,
    ) -> None:
        self.memory = memory
        self.composer = composer or TemplateComposer()
        self.recall_budget_s = recall_budget_s
        self.k = k

    async def speak(self, user_id: str, situation: str, task: str) -> Turn:
        """Recall what worked for ``user_id`` in situations like this, then compose a reply."""
        what_worked, state = await self._recall(user_id, situation, task)
        return Turn(
            user_id=user_id,
            task=task,
            situation=situation,
            reply=self.composer.compose(situation, task, what_worked),
            intervention_id=new_id(),
            recalled=tuple(hit.intervention_text for hit in what_worked),
            memory=state,
        )

    async def remember(self, turn: Turn, outcome: Outcome | str) -> WriteResult:
        """Record the turn's intervention with the outcome the agent observed."""
        try:
            receipt = await self.memory.record_intervention(
                turn.user_id,
                turn.reply,
                task=turn.task,
                context=turn.situation,
                outcome=outcome,
                metadata={"channel": "voice"},
                id=turn.intervention_id,  # a retried turn lands on the same record
            )
        except MemcoreError as exc:
            if not is_retryable(exc):
                raise
            logger.warning("intervention not recorded: %s", exc)
            return "skipped"
        return "deferred" if receipt.deferred else "stored"

    async def _recall(
        self, user_id: str, situation: str, task: str
    ) -> tuple[list[Intervention], MemoryState]:
        search = self.memory.search_interventions(
            user_id, situation, k=self.k, filters={"outcome": "task_completed", "task": task}
        )
        try:
            hits = await asyncio.wait_for(search, self.recall_budget_s)
        except asyncio.TimeoutError:
            logger.warning(
                "recall over budget (%.0f ms); speaking without memory",
                self.recall_budget_s * 1e3,
            )
            return [], "unavailable"
        except MemcoreError as exc:
            if not is_retryable(exc):
                raise
            logger.warning("recall failed: %s; speaking without memory", exc)
            return [], "unavailable"
        return [hit.record for hit in hits], "ok" if hits.complete else "degraded"


SCRIPT = (
    ("I have a job interview in an hour and my hands are shaking.", "calm_down", "task_completed"),
    ("I can't sleep, my mind keeps racing.", "sleep_routine", "user_resisted"),
    ("Big presentation tomorrow and I'm panicking.", "calm_down", "task_completed"),
)


async def conversation(bridge: VoiceAgentBridge, user_id: str = "user-42") -> list[Turn]:
    """Play :data:`SCRIPT`: each situation, the agent's reply, then the observed outcome."""
    turns = []
    for situation, task, outcome in SCRIPT:
        turn = await bridge.speak(user_id, situation, task)
        await bridge.remember(turn, outcome)
        turns.append(turn)
    return turns


async def main() -> None:
    """Run the scripted conversation on the configured backends and print it."""
    async with memcore.connect() as memory:
        for turn in await conversation(VoiceAgentBridge(memory)):
            print(f"user ({turn.task}): {turn.situation}")  # noqa: T201 - an example prints
            print(f"agent [memory {turn.memory}]: {turn.reply}")  # noqa: T201


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
