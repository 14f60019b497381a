"""A field added through the field table round-trips on Redis and a Redis Cluster (hash and
JSON), and is stored sealed when the table marks it sensitive: field_table_suite.py, in a
fresh process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_a_field_added_through_the_table_round_trips_on_both_layouts(
    redis_server_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "MEMCORE_TEST_REDIS_URL": redis_server_url}
    result = subprocess.run(  # noqa: S603 - our own suite
        [
            sys.executable,
            "-m",
            "pytest",
            str(HERE / "field_table_suite.py"),
            "-c",
            str(HERE.parent / "pyproject.toml"),
            "--noconftest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 passed" in result.stdout, result.stdout
