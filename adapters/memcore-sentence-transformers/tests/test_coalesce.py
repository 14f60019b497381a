"""The coalescer alone, with a recording runner instead of a model."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from memcore.errors import EmbeddingError
from memcore.ports import Vectors
from memcore_sentence_transformers._coalesce import Coalescer


class Runner:
    """Embeds text ``"n"`` as the row ``[n, n]`` and records every batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate: asyncio.Event | None = None
        self.poison: str | None = None

    async def __call__(self, texts: list[str]) -> Vectors:
        self.batches.append(texts)
        if self.gate is not None:
            await self.gate.wait()
        if self.poison in texts:
            raise EmbeddingError("boom")
        return np.array([[float(t), float(t)] for t in texts], dtype=np.float32)


async def test_concurrent_calls_share_one_batch_and_get_their_own_rows() -> None:
    runner = Runner()
    coalescer = Coalescer(runner, max_batch=64, max_wait=0)
    results = await asyncio.gather(*(coalescer.submit([str(n)]) for n in range(10)))
    assert runner.batches == [[str(n) for n in range(10)]]
    for n, rows in enumerate(results):
        np.testing.assert_array_equal(rows, [[n, n]])
    assert coalescer.batches == 1


async def test_batches_never_exceed_max_batch_but_a_large_call_runs_whole() -> None:
    runner = Runner()
    coalescer = Coalescer(runner, max_batch=4, max_wait=0)
    calls = [coalescer.submit([str(n)]) for n in range(9)]
    calls.append(coalescer.submit([str(n) for n in range(10, 16)]))
    results = await asyncio.gather(*calls)
    assert [len(batch) for batch in runner.batches] == [4, 4, 1, 6]
    np.testing.assert_array_equal(results[-1][:, 0], range(10, 16))


async def test_calls_arriving_during_a_pass_form_the_next_batch() -> None:
    runner = Runner()
    runner.gate = asyncio.Event()
    coalescer = Coalescer(runner, max_batch=64, max_wait=0)
    first = asyncio.create_task(coalescer.submit(["1"]))
    await asyncio.sleep(0.01)
    later = [asyncio.create_task(coalescer.submit([str(n)])) for n in range(2, 6)]
    await asyncio.sleep(0.01)
    runner.gate.set()
    await asyncio.gather(first, *later)
    assert runner.batches == [["1"], ["2", "3", "4", "5"]]


async def test_an_idle_call_waits_up_to_max_wait_for_company() -> None:
    runner = Runner()
    coalescer = Coalescer(runner, max_batch=64, max_wait=0.5)
    first = asyncio.create_task(coalescer.submit(["1"]))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(coalescer.submit(["2"]))
    await asyncio.gather(first, second)
    assert runner.batches == [["1", "2"]]


async def test_a_failure_reaches_every_caller_of_its_batch_only() -> None:
    runner = Runner()
    runner.poison = "0"
    coalescer = Coalescer(runner, max_batch=2, max_wait=0)
    outcomes = await asyncio.gather(
        *(coalescer.submit([str(n)]) for n in range(3)), return_exceptions=True
    )
    assert runner.batches == [["0", "1"], ["2"]]
    assert all(isinstance(outcome, EmbeddingError) for outcome in outcomes[:2])
    np.testing.assert_array_equal(outcomes[2], [[2, 2]])


async def test_a_cancelled_caller_leaves_the_others_alone() -> None:
    runner = Runner()
    runner.gate = asyncio.Event()
    coalescer = Coalescer(runner, max_batch=64, max_wait=0)
    blocker = asyncio.create_task(coalescer.submit(["0"]))
    await asyncio.sleep(0.01)
    doomed = asyncio.create_task(coalescer.submit(["1"]))
    kept = asyncio.create_task(coalescer.submit(["2"]))
    await asyncio.sleep(0)
    doomed.cancel()
    runner.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    np.testing.assert_array_equal(await kept, [[2, 2]])
    await blocker
    assert runner.batches == [["0"], ["2"]]
