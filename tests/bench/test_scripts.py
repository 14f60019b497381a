"""Every benchmark script in the repo runs, at a small size, and prints its table.

The figures in ``docs/`` come from these scripts at full size; this keeps them from
breaking unnoticed. Runs in the bench tox environment (memcore-redis[server], RedisVL,
the local model and pyinstrument installed).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REDIS = "adapters/memcore-redis/benchmarks"

# (script, small-size arguments, a line its output must hold)
SCRIPTS = [
    (f"{REDIS}/bench_client_path.py", ["--calls", "20"], "filtered KNN  RedisVL"),
    (f"{REDIS}/bench_cluster.py", ["--n", "600", "--users", "3"], "| cluster (3 primaries) |"),
    (
        f"{REDIS}/bench_knn_vs_redisvl.py",
        ["--n", "600", "--users", "3", "--rounds", "1"],
        "| RedisVL | ",
    ),
    (
        f"{REDIS}/bench_prefilter.py",
        ["--n", "600", "--users", "3", "--rounds", "1"],
        "| pre-filter and plan |",
    ),
    (
        f"{REDIS}/bench_redis.py",
        ["--n", "600", "--users", "3", "--queries", "20", "--json-n", "200"],
        "| filtered KNN p50 (ms) |",
    ),
    (f"{REDIS}/bench_round_trip.py", ["--rounds", "1"], "| memcore QueueingConnectionPool |"),
    ("benchmarks/bench_health.py", ["--rounds", "50"], "memory + hashing"),
    ("benchmarks/bench_memory.py", ["--records", "600", "--queries", "20"], "| numpy floor"),
    (
        "benchmarks/profile_hot_paths.py",
        ["search", "--store", "redis", "--n", "600"],
        "search on redis, N = 600",
    ),
]


@pytest.mark.parametrize(
    ("script", "arguments", "expected"), SCRIPTS, ids=[Path(s[0]).stem for s in SCRIPTS]
)
def test_the_script_runs_at_a_small_size(script: str, arguments: list[str], expected: str) -> None:
    done = subprocess.run(
        [sys.executable, script, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert expected in done.stdout, done.stdout[-3000:]


def test_every_script_is_run() -> None:
    found = {str(path.relative_to(ROOT)) for path in ROOT.glob(f"{REDIS}/*.py")}
    found |= {str(path.relative_to(ROOT)) for path in ROOT.glob("benchmarks/*.py")}
    assert found == {script for script, *_ in SCRIPTS}
