"""Embedding throughput of the local model (needs ``agent-memcore-sentence-transformers``).

The embedder is built by name through the registry (``local``), as an application
would. Figures: batched throughput, concurrent single-text calls coalesced into shared
passes against the same calls made one after another, and a cache hit through
:class:`~memcore.caching.CachePolicy`.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from memcore import registry
from memcore.caching import CachePolicy, LRUEmbeddingCache
from memcore.errors import AdapterNotFoundError
from memcore.pipeline import EmbedderFront, Pipeline
from memcore.settings import load_settings
from memcore_bench.workload import MOVES, SITUATIONS, TASKS

BACKEND = "local"
CONCURRENT = 64


def texts(count: int) -> list[str]:
    """Distinct coaching-like texts, as the service embeds them."""
    return [
        f"Task: {TASKS[i % len(TASKS)]}\nContext: {SITUATIONS[i % len(SITUATIONS)]}\n"
        f"Intervention: {MOVES[i % len(MOVES)].format(n=i)}"
        for i in range(count)
    ]


async def embedding_figures(batch_texts: int) -> dict[str, float] | str:
    """The figures, or why they were not measured."""
    try:
        embedder = registry.embedders.create(load_settings(), BACKEND)
    except AdapterNotFoundError as exc:
        return f"local model not measured: {exc}"
    try:
        corpus = texts(batch_texts + 2 * CONCURRENT)
        await embedder.embed(corpus[:8])  # load the model before timing
        started = time.perf_counter()
        await embedder.embed(corpus[:batch_texts])
        batched = batch_texts / (time.perf_counter() - started)

        singles = corpus[batch_texts : batch_texts + CONCURRENT]
        started = time.perf_counter()
        await asyncio.gather(*(embedder.embed([text]) for text in singles))
        coalesced = CONCURRENT / (time.perf_counter() - started)

        started = time.perf_counter()
        for text in corpus[batch_texts + CONCURRENT :]:
            await embedder.embed([text])
        sequential = CONCURRENT / (time.perf_counter() - started)

        pipeline = Pipeline(
            [CachePolicy(LRUEmbeddingCache(), model=embedder.model, dimension=embedder.dimension)]
        )
        cached = EmbedderFront(embedder, pipeline)
        await cached.embed(corpus[:1])
        hits = []
        for _ in range(500):
            started = time.perf_counter()
            await cached.embed(corpus[:1])
            hits.append((time.perf_counter() - started) * 1e6)
    finally:
        await embedder.aclose()
    return {
        "batched_texts_per_s": batched,
        "coalesced_texts_per_s": coalesced,
        "sequential_texts_per_s": sequential,
        "coalesced_vs_sequential": coalesced / sequential,
        "cache_hit_p50_us": statistics.median(hits),
    }
