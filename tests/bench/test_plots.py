"""The plots of ``memcore bench`` (matplotlib: the bench extra, so the bench tox env)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from memcore_bench.cli import app


def test_each_shape_of_users_gets_its_own_plots(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["--quick", "--n", "400", "--users", "4", "--large-users", "--no-redis",
         "--no-embedding", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {path.name for path in tmp_path.glob("*.png")} == {
        "bench-knn-p50-ms.png",
        "bench-ingest-rps.png",
        "bench-knn-p50-ms-ten-users.png",
        "bench-ingest-rps-ten-users.png",
    }
