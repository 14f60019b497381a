"""memcore_bench: the workload's ground truth, the runner, the report, the command."""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import memcore
from memcore.observability import MetricsPolicy
from memcore.resilience import RetryPolicy
from memcore.resilience.breaker import BreakerPolicy
from memcore.resilience.degrade import DegradationPolicy
from memcore_bench.cli import app
from memcore_bench.report import METRICS, Run, TargetInfo, markdown, percentile, ratio, rows
from memcore_bench.runner import Figures, run_targets, shuffled, traced_bytes
from memcore_bench.suite import Config
from memcore_bench.targets import NumpyFloor, in_memory_bare_target, in_memory_target
from memcore_bench.workload import SEARCH_OUTCOME, make_workload


def test_the_workload_is_seeded_grouped_by_user_and_its_answers_are_exact() -> None:
    first = make_workload(600, users=4, dimension=16, queries=20, seed=3)
    again = make_workload(600, users=4, dimension=16, queries=20, seed=3)
    assert np.array_equal(first.vectors, again.vectors)
    assert [q.exact for q in first.queries] == [q.exact for q in again.queries]
    owners = [record.user_id for record in first.interventions]
    assert owners == sorted(owners)
    assert all(record.kind.value == "reflection" for record in first.reflections)
    by_id = {record.id: (record, row) for row, record in enumerate(first.interventions)}
    for query in first.queries:
        mine = [
            row
            for row, record in enumerate(first.interventions)
            if record.user_id == query.user and record.outcome is SEARCH_OUTCOME
        ]
        best = sorted(mine, key=lambda row: -float(first.vectors[row] @ query.vector))
        assert [by_id[i][1] for i in query.exact] == best[: first.k]


def test_batches_hold_one_user_each_and_cover_every_row() -> None:
    workload = make_workload(1_000, users=3, dimension=8, queries=1)
    batches = workload.batches(100)
    assert all(b.stop - b.start <= 100 for _, b in batches)
    assert sum(b.stop - b.start for _, b in batches) == 1_000
    for user, span in batches:
        assert {r.user_id for r in workload.interventions[span]} == {user}


def test_every_target_takes_every_place_and_follows_every_other() -> None:
    orders = [shuffled("abc", turn) for turn in range(600)]
    assert orders == [shuffled("abc", turn) for turn in range(600)]  # the same every run
    for place in range(3):
        counts = Counter(order[place] for order in orders)
        assert all(150 <= counts[item] <= 250 for item in "abc"), counts
    pairs = Counter((a, b) for order in orders for a, b in itertools.pairwise(order))
    assert set(pairs) == set(itertools.permutations("abc", 2))
    assert min(pairs.values()) >= 150


async def test_memcore_and_the_floor_find_the_exact_answers() -> None:
    workload = make_workload(800, users=4, dimension=32, queries=30)
    targets = [in_memory_target(), in_memory_bare_target(), NumpyFloor()]
    figures = await run_targets(workload, targets, writes=10, health_checks=5)
    for name in ("memcore in-memory service", "memcore in-memory bare store", "numpy floor"):
        assert figures[name].recall == 1.0
        assert len(figures[name].knn_ms) == 30
        assert len(figures[name].write_ms) == 10
        assert figures[name].ingest_rps is not None
    assert len(figures["memcore in-memory service"].health_ms) == 5
    assert figures["numpy floor"].health_ms == []  # the floor has no health check
    assert await traced_bytes(NumpyFloor, workload) >= 32 * 4  # at least the vector itself


async def test_memcore_is_measured_as_connect_builds_it_with_a_state_dir_of_its_own(
    tmp_path: Path,
) -> None:
    """The service row has connect()'s layers (the bench's own service, built by hand,
    had none); its durable outbox lives in a temporary directory removed at close.
    """
    workload = make_workload(40, users=1, dimension=8, queries=1)
    target = in_memory_target()
    await target.setup(workload)
    assert target.service is not None
    layers = [type(policy) for policy in target.service.pipeline.policies]
    degradation = target.service.pipeline.find(DegradationPolicy)
    assert degradation is not None
    state = degradation.outbox.directory
    assert state is not None
    await target.aclose()
    built = memcore.connect(store="memory", embedder="hashing", state_dir=tmp_path)
    async with built as connected:
        assert layers == [type(policy) for policy in connected.pipeline.policies]
    assert {DegradationPolicy, BreakerPolicy, MetricsPolicy, RetryPolicy} <= set(layers)
    own = Path(tempfile.gettempdir(), state.relative_to(tempfile.gettempdir()).parts[0])
    assert own.name.startswith("memcore-bench-")
    assert not await asyncio.to_thread(own.exists)


def test_ratios_are_costs_and_rows_compare_memcore_with_its_family() -> None:
    ingest = next(m for m in METRICS if m.key == "ingest_rps")
    knn = next(m for m in METRICS if m.key == "knn_p50_ms")
    assert ratio(ingest, 50.0, 100.0) == 2.0  # half the throughput costs twice as much
    assert ratio(knn, 2.0, 1.0) == 2.0
    assert ratio(knn, 2.0, None) is None
    run = Run(
        n=10,
        users=1,
        dimension=4,
        queries=2,
        k=1,
        targets=(
            TargetInfo("m", "in-memory", "memcore"),
            TargetInfo("f", "in-memory", "floor"),
        ),
        figures={
            "m": Figures(ingest_rps=50.0, knn_ms=[2.0, 4.0]),
            "f": Figures(ingest_rps=100.0, knn_ms=[1.0, 1.0]),
        },
    )
    table = {(r["metric"], r["target"]): r for r in rows(run)}
    assert table["ingest_rps", "m"]["vs_floor"] == 2.0
    assert table["knn_p50_ms", "m"]["vs_floor"] == 3.0
    assert table["knn_p50_ms", "m"]["vs_redisvl"] is None  # no RedisVL in this family
    assert "vs_floor" not in table["knn_p50_ms", "f"]
    assert "| filtered KNN p50 (ms) | m | 3.000 | 3.00x |  |" in markdown([run])
    assert percentile([], 50) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 99) == 4.0


def test_the_command_writes_markdown_and_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["--quick", "--n", "400", "--no-redis", "--no-plots", "--no-embedding",
         "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = (tmp_path / "results.md").read_text()
    assert "### N = 400 interventions" in report
    assert "Redis skipped (--no-redis)" in report
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["meta"]["config"]["sizes"] == [400]
    targets = {row["target"] for row in data["rows"]}
    assert targets == {"memcore in-memory service", "memcore in-memory bare store", "numpy floor"}
    assert "### N = 400 interventions" in result.stdout

    as_json = CliRunner().invoke(
        app,
        ["--quick", "--n", "400", "--no-redis", "--no-plots", "--no-embedding",
         "--out", str(tmp_path / "again"), "--json"],
    )  # fmt: skip
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == json.loads(
        (tmp_path / "again" / "results.json").read_text()
    )


def test_large_users_run_each_size_below_a_million_again_with_ten_users() -> None:
    config = Config(sizes=(10_000, 1_000_000), large_users=True)
    assert config.shapes() == [
        (10_000, 10, ""),
        (1_000_000, 1_000, ""),
        (10_000, 10, "ten-users"),
    ]


def test_the_large_users_get_their_own_tables(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["--quick", "--n", "400", "--users", "4", "--large-users", "--no-redis",
         "--no-embedding", "--no-plots", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = (tmp_path / "results.md").read_text()
    assert "### N = 400 interventions (4 users" in report
    assert "### N = 400 interventions (10 users" in report
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert {row["users"] for row in rows} == {4, 10}
