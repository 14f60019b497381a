"""Overhead of OpenAIEmbedder over a bare AsyncOpenAI call, against the local fake server.

Run from the repository root (about 20 seconds):

    python adapters/memcore-openai/benchmarks/bench_openai.py

Both sides use the real AsyncOpenAI client (retries off), the same server, texts,
model and dimensions; calls alternate so load changes hit both alike. The adapter adds
request planning, retry bookkeeping and reply validation (target <= 1.2x).
"""

from __future__ import annotations

import asyncio
import statistics
import time

import openai

from memcore_openai import OpenAIEmbedder, OpenAISettings
from memcore_openai.testing import FakeEmbeddingsServer

KEY = "sk-bench"
DIMENSIONS = 1536
ROUNDS = 200


async def run(batch: int) -> None:
    texts = [f"benchmark sentence {n} about habits and progress" for n in range(batch)]
    with FakeEmbeddingsServer(api_key=KEY, dimensions=DIMENSIONS) as server:
        bare = openai.AsyncOpenAI(api_key=KEY, base_url=server.base_url, max_retries=0)
        ours = OpenAIEmbedder(
            OpenAISettings(api_key=KEY, base_url=server.base_url, dimensions=DIMENSIONS)
        )
        bare_times, our_times = [], []
        for round_ in range(ROUNDS + 10):
            started = time.perf_counter()
            await bare.embeddings.create(
                input=texts, model="text-embedding-3-small", dimensions=DIMENSIONS
            )
            middle = time.perf_counter()
            await ours.embed(texts)
            ended = time.perf_counter()
            if round_ >= 10:  # warm-up rounds are not counted
                bare_times.append(middle - started)
                our_times.append(ended - middle)
        await bare.close()
        await ours.aclose()
    bare_ms, our_ms = statistics.median(bare_times) * 1000, statistics.median(our_times) * 1000
    print(
        f"batch {batch:>3}: bare AsyncOpenAI {bare_ms:.2f} ms, OpenAIEmbedder {our_ms:.2f} ms "
        f"(medians of {ROUNDS}) -> {our_ms / bare_ms:.2f}x (target <= 1.2x)"
    )


async def main() -> None:
    for batch in (1, 16, 128):
        await run(batch)


if __name__ == "__main__":
    asyncio.run(main())
