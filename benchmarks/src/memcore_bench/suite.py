"""The whole comparison: every N, every target, embedding figures, then the report files."""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from memcore_bench.embedding import embedding_figures
from memcore_bench.report import Run, TargetInfo, markdown, plot, plots_available, to_json
from memcore_bench.runner import run_targets, traced_bytes
from memcore_bench.scripts import ScriptRun
from memcore_bench.scripts import markdown as scripts_markdown
from memcore_bench.targets import NumpyFloor, Target, in_memory_bare_target, in_memory_target
from memcore_bench.workload import make_workload

QUICK_N = (2_000,)
DEFAULT_N = (10_000, 100_000)
MILLION = 1_000_000
RECORDS_PER_USER = 1_000
LARGE_USERS = 10


@dataclass(frozen=True)
class Config:
    """What to run. ``users`` 0 means one user per :data:`RECORDS_PER_USER` records.

    ``large_users`` runs each size below a million again with :data:`LARGE_USERS` users.
    """

    sizes: tuple[int, ...] = DEFAULT_N
    users: int = 0
    dimension: int = 384
    queries: int = 1_000
    writes: int = 1_000
    health_checks: int = 200
    embed_texts: int = 256
    embedding: bool = True
    redis: bool = True
    json_max: int = 100_000
    large_users: bool = False
    plots: bool = True
    seed: int = 7

    @classmethod
    def quick(cls, **changes: Any) -> Config:
        """A run of well under two minutes, for CI (``memcore bench --quick``)."""
        base = {
            "sizes": QUICK_N,
            "queries": 100,
            "writes": 100,
            "health_checks": 100,
            "embed_texts": 64,
        }
        return cls(**{**base, **changes})

    def users_for(self, n: int) -> int:
        """Users sharing ``n`` records: many users of a realistic size each."""
        return self.users or max(10, n // RECORDS_PER_USER)

    def shapes(self) -> list[tuple[int, int, str]]:
        """Every run's N, users and shape (``""``, or ``"ten-users"`` for the large users)."""
        shapes = [(n, self.users_for(n), "") for n in self.sizes]
        if self.large_users:
            shapes += [(n, LARGE_USERS, "ten-users") for n in self.sizes if n < MILLION]
        return shapes


def redis_unavailable(config: Config) -> str | None:
    """Why Redis is not benchmarked, or ``None`` if it is."""
    if not config.redis:
        return "Redis skipped (--no-redis)"
    redis_side = _redis_side()
    if redis_side is None:
        return "Redis not measured: install agent-memcore-redis[server]"
    reason: str | None = redis_side.server_unavailable()
    return reason


def _redis_side() -> Any | None:
    """:mod:`.redis_targets` when agent-memcore-redis is installed, else None."""
    if importlib.util.find_spec("memcore_redis") is None:
        return None
    return importlib.import_module("memcore_bench.redis_targets")


CAVEATS = (
    (
        "Each memcore store has two rows: its service as `connect()` builds it (the "
        "container's default policies: degradation with its durable outbox, breakers, "
        "metrics, retry; precomputed embeddings through the public API), what an "
        "application gets; and its bare store, the `MemoryStore` port called directly "
        "(`upsert` of records and unit vectors, `search` with a `SearchFilter`). The "
        "in-memory bare store has no memory row: it keeps the record objects the workload "
        "built, which tracemalloc, started after them, does not see."
    ),
    (
        "memcore's Redis writes do more than the floor's and RedisVL's: a batch is one "
        "MULTI/EXEC transaction, and each write checks in the same round trip that RediSearch "
        "indexed it, so no record is ever stored but unsearchable."
    ),
    (
        "memcore's health check is end to end (connection, memory, modules, index, schema); "
        "the floor's is a PING."
    ),
    (
        "A filtered query reads one user's records only, so KNN latency follows the size of "
        "a user's memory (N / users, in each table's heading) more than N."
    ),
    (
        "The numpy floor keeps vectors, ids and one boolean column for the benchmark's filter, "
        "and scores all of a user's rows; memcore keeps whole records, validates every input, "
        "filters on any field, and ranks only the matching rows (so it can beat this floor "
        "on large users)."
    ),
)


async def run_suite(config: Config) -> tuple[list[Run], dict[str, Any], list[str]]:
    """Measure everything; returns the runs, the metadata and the notes for the report."""
    notes: list[str] = list(CAVEATS)
    no_redis = redis_unavailable(config)
    with_redisvl = importlib.util.find_spec("redisvl") is not None
    if no_redis:
        notes.append(no_redis)
    elif not with_redisvl:
        notes.append("RedisVL not installed: the RedisVL column is empty (pip install redisvl)")
    runs = []
    for n, users, shape in config.shapes():
        workload = make_workload(
            n,
            users=users,
            dimension=config.dimension,
            queries=config.queries,
            seed=config.seed,
        )
        service, bare, floor = in_memory_target(), in_memory_bare_target(), NumpyFloor()
        targets: list[Target] = [service, bare, floor]
        if not no_redis:
            with_json = n <= config.json_max
            if not with_json:
                notes.append(
                    f"N = {n:,}: memcore Redis JSON skipped (--json-max {config.json_max:,})"
                )
            redis_side: Any = _redis_side()
            targets += redis_side.redis_targets(with_json=with_json, with_redisvl=with_redisvl)
        figures = await run_targets(
            workload, targets, writes=config.writes, health_checks=config.health_checks
        )
        # tracemalloc, for the in-process targets (not the bare store: see its note)
        figures[service.name].bytes_per_record = await traced_bytes(in_memory_target, workload)
        figures[floor.name].bytes_per_record = await traced_bytes(NumpyFloor, workload)
        infos = tuple(TargetInfo(t.name, t.family, t.role) for t in targets)
        runs.append(
            Run(
                n=n,
                users=users,
                dimension=config.dimension,
                queries=len(workload.queries),
                k=workload.k,
                targets=infos,
                figures=figures,
                shape=shape,
            )
        )
    embedding = (
        await embedding_figures(config.embed_texts)
        if config.embedding
        else "embedding not measured (--no-embedding)"
    )
    if isinstance(embedding, str):
        notes.append(embedding)
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cpus",
        "config": asdict(config),
        "embedding": embedding,
    }
    return runs, meta, notes


def write_report(
    runs: list[Run],
    meta: dict[str, Any],
    notes: list[str],
    out_dir: Path,
    command: str,
    *,
    scripts: Sequence[ScriptRun] = (),
) -> list[Path]:
    """Write ``results.md``, ``results.json`` and (with matplotlib) the plots to ``out_dir``.

    ``scripts``: the per-issue scripts' runs (``--scripts``), listed after the tables.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    header = [
        "# Benchmark results",
        "",
        (
            f"Generated by `{command}` on {meta['date']} ({meta['machine']}, "
            f"Python {meta['python']}). Regenerate rather than edit."
        ),
        "",
        (
            "Cost ratios: above 1 means memcore costs more than the reference "
            "(latency and bytes: memcore / reference; throughput: reference / memcore; "
            "recall: memcore / reference)."
        ),
        "",
    ]
    embedding = meta["embedding"]
    if isinstance(embedding, dict):
        header += ["### Embedding (local model)", "", "| figure | value |", "|---|---|"]
        header += [f"| {key} | {value:,.2f} |" for key, value in embedding.items()]
        header.append("")
    written = [out_dir / "results.md", out_dir / "results.json"]
    report = "\n".join(header) + "\n" + markdown(runs, notes)
    if scripts:
        report += "\n" + scripts_markdown(scripts, out_dir)
    written[0].write_text(report, encoding="utf-8")
    written[1].write_text(to_json(runs, meta) + "\n", encoding="utf-8")
    if meta["config"]["plots"] and plots_available():
        for shape in dict.fromkeys(run.shape for run in runs):
            written += plot([run for run in runs if run.shape == shape], out_dir, shape)
    elif meta["config"]["plots"]:
        notes.append("plots skipped: matplotlib not installed (pip install -e 'benchmarks[plots]')")
    return written
