from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from conftest import EXAMPLES, load_example
from memcore import Intervention, MemoryService, RecordKind

job = load_example("reflection_job")
NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


class OnePerIntervention:
    async def summarise(self, user_id: str, interventions: Sequence[Intervention]) -> list[object]:
        return [
            job.Insight(text=f"{user_id} heard: {item.intervention_text}", source_ids=(item.id,))
            for item in interventions
        ]


async def test_reflections_link_to_the_interventions_they_summarise(
    memory: MemoryService, user_id: str
) -> None:
    await job.seed_demo(memory, user_id, NOW)
    results = await job.run_job(memory, job.OutcomeSummariser(), users=[user_id], now=NOW)
    calm, sleep = results[user_id]
    assert calm.text == (
        "For calm_down, 2 of 3 interventions worked. Latest that worked: "
        '"Breathe in for four, out for six."'
    )
    assert sleep.text.startswith("For sleep_routine, 1 of 2 interventions worked.")
    sources = await memory.get_many(user_id, calm.source_ids)
    assert [s.intervention_text for s in sources] == [
        text for text, task, _ in job.DEMO if task == "calm_down"
    ]
    stored = await memory.get(user_id, calm.id)
    assert stored.kind is RecordKind.REFLECTION
    assert stored.metadata["job"] == "reflection"


async def test_running_the_job_twice_adds_nothing(memory: MemoryService, user_id: str) -> None:
    await job.seed_demo(memory, user_id, NOW)
    first = await job.run_job(memory, job.OutcomeSummariser(), users=[user_id], now=NOW)
    second = await job.run_job(memory, job.OutcomeSummariser(), users=[user_id], now=NOW)
    assert [r.id for r in first[user_id]] == [r.id for r in second[user_id]]
    assert (await memory.stats(user_id)).reflections == 2


async def test_only_the_window_is_summarised(memory: MemoryService, user_id: str) -> None:
    await job.seed_demo(memory, user_id, NOW)
    later = NOW + timedelta(days=30)
    assert await job.run_job(memory, job.OutcomeSummariser(), users=[user_id], now=later) == {
        user_id: []
    }
    # A three-hour window keeps the last three interventions (one per hour up to NOW).
    results = await job.run_job(memory, OnePerIntervention(), days=3 / 24, users=[user_id], now=NOW)
    assert [r.text for r in results[user_id]] == [
        f"{user_id} heard: {text}" for text, _, _ in job.DEMO[-3:]
    ]


async def test_every_page_reaches_the_summariser(memory: MemoryService, user_id: str) -> None:
    count = job.PAGE_SIZE * 2 + 7
    await memory.record_interventions(
        user_id,
        [
            {
                "intervention_text": f"tip {n}",
                "task": "walk",
                "created_at": NOW - timedelta(minutes=n),
            }
            for n in range(count)
        ],
    )
    found = await job.recent_interventions(memory, user_id, NOW - timedelta(days=1))
    assert len({item.id for item in found}) == count
    assert [item.created_at for item in found] == sorted(item.created_at for item in found)


async def test_without_users_every_user_in_the_store_is_reflected(memory: MemoryService) -> None:
    users = [f"job-{n}-{os.getpid()}-{id(memory)}" for n in range(2)]
    for user in users:
        await job.seed_demo(memory, user, NOW)
    results = await job.run_job(memory, job.OutcomeSummariser(), now=NOW)
    assert set(users) <= set(results)
    assert all(len(results[user]) == 2 for user in users)


def test_the_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "reflection_job.py"), "--demo", "--user", "user-42"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert "user-42: For calm_down, 2 of 3 interventions worked." in result.stdout
