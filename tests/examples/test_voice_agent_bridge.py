from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Sequence

import pytest

from conftest import EXAMPLES, DownStore, load_example
from memcore import (
    MemoryRecord,
    MemoryService,
    SearchFilter,
    SearchHit,
    ValidationError,
)
from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.errors import EmbeddingUnavailableError
from memcore.ports import Vectors
from memcore.resilience import DegradationPolicy, Outbox

voice = load_example("voice_agent_bridge")


class SlowStore(InMemoryStore):
    async def search(
        self, user_id: str, vector: Vectors, k: int, filters: SearchFilter
    ) -> list[SearchHit[MemoryRecord]]:
        await asyncio.sleep(5)
        return await super().search(user_id, vector, k, filters)


class DownEmbedder(HashingEmbedder):
    async def embed(self, texts: Sequence[str]) -> Vectors:
        raise EmbeddingUnavailableError("model server down", operation="embed", backend="down")


async def test_a_similar_situation_recalls_what_worked(memory: MemoryService, user_id: str) -> None:
    bridge = voice.VoiceAgentBridge(memory)
    first, second, third = await voice.conversation(bridge, user_id)
    assert first.recalled == ()
    assert second.recalled == ()  # another task: nothing to reuse
    assert third.recalled[0] == first.reply
    assert first.reply in third.reply
    assert {turn.memory for turn in (first, second, third)} == {"ok"}
    stored = await memory.get(user_id, first.intervention_id)
    assert stored.outcome == "task_completed"
    assert stored.context == first.situation


async def test_only_interventions_that_worked_are_recalled(
    memory: MemoryService, user_id: str
) -> None:
    bridge = voice.VoiceAgentBridge(memory)
    turn = await bridge.speak(user_id, "My hands are shaking before the interview.", "calm_down")
    assert await bridge.remember(turn, "user_resisted") == "stored"
    again = await bridge.speak(user_id, "Shaking before a big interview.", "calm_down")
    assert again.recalled == ()
    assert again.reply == voice.TemplateComposer.DEFAULTS["calm_down"]


async def test_a_retried_remember_leaves_one_record(memory: MemoryService, user_id: str) -> None:
    bridge = voice.VoiceAgentBridge(memory)
    turn = await bridge.speak(user_id, "Cannot sleep.", "sleep_routine")
    await bridge.remember(turn, "unknown")
    await bridge.remember(turn, "partial_progress")
    assert (await memory.stats(user_id)).interventions == 1
    assert (await memory.get(user_id, turn.intervention_id)).outcome == "partial_progress"


async def test_the_agent_keeps_talking_while_the_store_is_down_and_catches_up() -> None:
    backend = DownStore(down=True)
    # Replay only when the test says.
    degradation = DegradationPolicy(Outbox(), backend=backend.backend, replay_interval=3600)
    memory = MemoryService(backend, HashingEmbedder(dimension=32), policies=[degradation])
    await memory.start()  # the schema check is deferred, not raised
    try:
        bridge = voice.VoiceAgentBridge(memory)
        turn = await bridge.speak("user-1", "Panicking before my exam.", "calm_down")
        assert turn.memory == "degraded"
        assert turn.reply == voice.TemplateComposer.DEFAULTS["calm_down"]
        assert await bridge.remember(turn, "task_completed") == "deferred"

        backend.down = False
        assert await degradation.recover()  # the outbox replays the deferred write
        later = await bridge.speak("user-1", "Panicking before my exam again.", "calm_down")
        assert later.memory == "ok"
        assert later.recalled == (turn.reply,)
    finally:
        await memory.aclose()


async def test_recall_over_budget_speaks_without_memory() -> None:
    memory = MemoryService(SlowStore(), HashingEmbedder(dimension=32))
    await memory.start()
    try:
        bridge = voice.VoiceAgentBridge(memory, recall_budget_s=0.05)
        started = asyncio.get_running_loop().time()
        turn = await bridge.speak("user-1", "Anxious.", "calm_down")
        assert asyncio.get_running_loop().time() - started < 1
        assert turn.memory == "unavailable"
        assert turn.reply == voice.TemplateComposer.DEFAULTS["calm_down"]
    finally:
        await memory.aclose()


async def test_an_embedder_outage_neither_stops_the_turn_nor_raises() -> None:
    memory = MemoryService(InMemoryStore(), DownEmbedder(dimension=32))
    await memory.start()
    try:
        bridge = voice.VoiceAgentBridge(memory)
        turn = await bridge.speak("user-1", "Anxious.", "calm_down")
        assert turn.memory == "unavailable"
        assert await bridge.remember(turn, "task_completed") == "skipped"
        assert await memory.store.user_ids() == []
    finally:
        await memory.aclose()


async def test_a_non_retryable_error_is_not_swallowed(memory: MemoryService, user_id: str) -> None:
    bridge = voice.VoiceAgentBridge(memory)
    turn = await bridge.speak(user_id, "Anxious.", "calm_down")
    with pytest.raises(ValidationError) as caught:
        await bridge.remember(turn, "went_great")
    assert caught.value.field == "outcome"


def test_the_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "voice_agent_bridge.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 2 * len(voice.SCRIPT)
    assert lines[-1].startswith("agent [memory ok]: Last time this helped:")
