"""Turn runs into tables (markdown and JSON) with ratios, and plots (PNG, optional).

Ratios are *cost* ratios, memcore over a reference, so above 1 always means memcore costs
more: latency and bytes are ``memcore / reference``, throughput is
``reference / memcore``. Recall is shown as a plain ratio, ``memcore / reference``.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memcore_bench.runner import Figures
from memcore_bench.targets import MEMORY


@dataclass(frozen=True)
class TargetInfo:
    """Who a target is: its family (``in-memory``/``redis``) and role."""

    name: str
    family: str
    role: str


@dataclass(frozen=True)
class Run:
    """All targets' figures at one N. ``shape`` names a run of unusual users (plotted apart)."""

    n: int
    users: int
    dimension: int
    queries: int
    k: int
    targets: tuple[TargetInfo, ...]
    figures: dict[str, Figures]
    shape: str = ""


@dataclass(frozen=True)
class Metric:
    """One row of the table: how to read it off :class:`Figures` and compare it."""

    key: str
    label: str
    read: Callable[[Figures], float | None]
    higher_is_better: bool = False
    fmt: str = ".3f"


def percentile(samples: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``samples``, nearest rank; ``None`` if empty."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return ordered[rank] if q != 50 else statistics.median(ordered)


METRICS = (
    Metric(
        "ingest_rps",
        "ingest (records/s)",
        lambda f: f.ingest_rps,
        higher_is_better=True,
        fmt=",.0f",
    ),
    Metric("write_p50_ms", "single write p50 (ms)", lambda f: percentile(f.write_ms, 50)),
    Metric("write_p99_ms", "single write p99 (ms)", lambda f: percentile(f.write_ms, 99)),
    Metric("knn_p50_ms", "filtered KNN p50 (ms)", lambda f: percentile(f.knn_ms, 50)),
    Metric("knn_p99_ms", "filtered KNN p99 (ms)", lambda f: percentile(f.knn_ms, 99)),
    Metric("recall_at_k", "recall@k vs exact", lambda f: f.recall, higher_is_better=True),
    Metric(
        "bytes_per_record", "memory per record (bytes)", lambda f: f.bytes_per_record, fmt=",.0f"
    ),
    Metric("health_p50_ms", "health check p50 (ms)", lambda f: percentile(f.health_ms, 50)),
    Metric("health_p99_ms", "health check p99 (ms)", lambda f: percentile(f.health_ms, 99)),
)


def ratio(metric: Metric, ours: float | None, reference: float | None) -> float | None:
    """The cost ratio of ``ours`` against ``reference`` (see the module docstring)."""
    if ours is None or reference is None or ours == 0 or reference == 0:
        return None
    if metric.key == "recall_at_k":
        return ours / reference
    return reference / ours if metric.higher_is_better else ours / reference


def _reference(run: Run, family: str, role: str) -> str | None:
    return next((t.name for t in run.targets if t.family == family and t.role == role), None)


def rows(run: Run) -> list[dict[str, Any]]:
    """One row per (metric, target) with the value and its ratios to the floor and RedisVL."""
    out = []
    for metric in METRICS:
        for target in run.targets:
            value = metric.read(run.figures[target.name])
            if value is None:
                continue
            row: dict[str, Any] = {
                "n": run.n,
                "users": run.users,
                "metric": metric.key,
                "target": target.name,
                "family": target.family,
                "role": target.role,
                "value": value,
            }
            if target.role == "memcore":
                for ref_role, column in (("floor", "vs_floor"), ("redisvl", "vs_redisvl")):
                    ref = _reference(run, target.family, ref_role)
                    ref_value = metric.read(run.figures[ref]) if ref else None
                    row[column] = ratio(metric, value, ref_value)
            out.append(row)
    return out


def markdown(runs: Sequence[Run], notes: Sequence[str] = ()) -> str:
    """The whole report as markdown: one table per N, then the notes."""
    parts = []
    labels = {metric.key: metric for metric in METRICS}
    for run in runs:
        parts += [
            (
                f"### N = {run.n:,} interventions ({run.users:,} users, {run.dimension} dims, "
                f"k = {run.k}, {run.queries} queries)"
            ),
            "",
            "| figure | target | value | memcore / floor | memcore / RedisVL |",
            "|---|---|---|---|---|",
        ]
        for row in rows(run):
            metric = labels[row["metric"]]
            cells = [
                metric.label,
                row["target"],
                format(row["value"], metric.fmt),
                _ratio_cell(row.get("vs_floor")),
                _ratio_cell(row.get("vs_redisvl")),
            ]
            parts.append("| " + " | ".join(cells) + " |")
        parts.append("")
    parts += [f"- {note}" for note in notes]
    return "\n".join(parts).rstrip() + "\n"


def _ratio_cell(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def to_json(runs: Sequence[Run], meta: dict[str, Any]) -> str:
    """Every row of every run, plus ``meta`` (machine, arguments, embedding figures)."""
    return json.dumps({"meta": meta, "rows": [row for run in runs for row in rows(run)]}, indent=2)


def plots_available() -> bool:
    """Whether matplotlib (the ``plots`` extra of agent-memcore-bench) is installed."""
    return importlib.util.find_spec("matplotlib") is not None


def plot(runs: Sequence[Run], out_dir: Path, shape: str = "") -> list[Path]:
    """Filtered KNN p50 vs N (log-log) and ingest throughput per target, as PNGs.

    A ``shape`` (runs of unusual users) goes in the titles and the file names.
    """
    import matplotlib as mpl  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415 - optional extra

    mpl.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415

    names = [t.name for t in runs[0].targets]
    written = []
    for key, title, ylabel, log in (
        ("knn_p50_ms", "Filtered KNN latency (p50) vs N", "ms", True),
        ("ingest_rps", "Ingest throughput vs N", "records / s", False),
    ):
        metric = next(m for m in METRICS if m.key == key)
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name in names:
            points = [
                (run.n, value)
                for run in runs
                if name in run.figures and (value := metric.read(run.figures[name])) is not None
            ]
            if points:
                style = "--" if _family(runs, name) == MEMORY else "-"
                ax.plot(*zip(*points, strict=True), style, marker="o", label=name)
        ax.set_xscale("log")
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("N (interventions)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title} ({shape.replace('-', ' ')})" if shape else title)
        ax.grid(visible=True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
        name = "-".join(("bench", key.replace("_", "-"), *([shape] if shape else [])))
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    return written


def _family(runs: Sequence[Run], name: str) -> str:
    return next(t.family for run in runs for t in run.targets if t.name == name)
