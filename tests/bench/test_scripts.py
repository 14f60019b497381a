"""The benchmark scripts' manifest and its runner (``memcore bench --scripts``).

The real scripts run at their small sizes in the bench tox environment
(``memcore bench --quick --scripts``); here, the manifest covers every script in the repo,
and the runner tells a failed run from a good one.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memcore_bench.cli import app
from memcore_bench.scripts import MANIFEST, load_manifest, markdown, run_scripts

ROOT = Path(__file__).resolve().parents[2]


def test_the_manifest_lists_every_benchmark_script_in_the_repo() -> None:
    scripts = load_manifest(ROOT / MANIFEST)
    found = {path.relative_to(ROOT).as_posix() for path in ROOT.glob("benchmarks/*.py")}
    found |= {path.relative_to(ROOT).as_posix() for path in ROOT.glob("adapters/*/benchmarks/*.py")}
    assert {script.path for script in scripts} == found
    assert all(script.runs and script.expect for script in scripts)


def test_every_script_of_the_manifest_is_named_in_the_docs() -> None:
    docs = (ROOT / "docs/benchmarks.md").read_text(encoding="utf-8")
    for script in load_manifest(ROOT / MANIFEST):
        assert script.path in docs, f"{script.path} is in the manifest but not in the docs"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout with three scripts: one good, one that fails, one that prints no table."""
    (tmp_path / "benchmarks").mkdir()
    scripts = {
        "good.py": "import sys; print('| table |', *sys.argv[1:])",
        "crashes.py": "raise SystemExit('the server would not start')",
        "silent.py": "print('nothing measured')",
    }
    for name, code in scripts.items():
        (tmp_path / "benchmarks" / name).write_text(code + "\n")
    entries = [
        f'[[script]]\npath = "benchmarks/{name}"\nruns = [["--n", "10"], ["--n", "20"]]\n'
        f'small = ["--n", "1"]\nexpect = "| table |"\n'
        for name in scripts
    ]
    (tmp_path / MANIFEST).write_text("\n".join(entries))
    return tmp_path


def test_every_documented_run_is_made_and_kept(checkout: Path) -> None:
    runs = run_scripts(checkout / MANIFEST, checkout / "out" / "scripts", small=False)
    assert [run.command for run in runs[:2]] == [
        "python benchmarks/good.py --n 10",
        "python benchmarks/good.py --n 20",
    ]
    assert [run.failure is None for run in runs] == [True, True, False, False, False, False]
    assert "the server would not start" in str(runs[2].failure)
    assert runs[4].failure == "its output lacks '| table |'"
    kept = (checkout / "out" / "scripts" / "good.txt").read_text()
    assert kept == textwrap.dedent("""\
        $ python benchmarks/good.py --n 10

        | table | --n 10

        $ python benchmarks/good.py --n 20

        | table | --n 20
        """)
    section = markdown(runs, checkout / "out")
    assert (
        "| `python benchmarks/good.py --n 20` | [scripts/good.txt](scripts/good.txt) |" in section
    )
    assert "| failed: exit code 1: the server would not start |" in section


def test_a_small_run_makes_one_run_per_script(checkout: Path) -> None:
    runs = run_scripts(checkout / MANIFEST, checkout / "out", small=True)
    assert [run.command for run in runs] == [
        "python benchmarks/good.py --n 1",
        "python benchmarks/crashes.py --n 1",
        "python benchmarks/silent.py --n 1",
    ]


def test_the_command_fails_when_a_script_fails_and_says_which(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(checkout)
    result = CliRunner().invoke(
        app,
        ["--quick", "--n", "300", "--no-redis", "--no-plots", "--no-embedding", "--scripts",
         "--out", str(checkout / "out")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "python benchmarks/crashes.py --n 1: 0 s, FAILED (exit code 1" in result.output
    report = (checkout / "out" / "results.md").read_text()
    assert "### N = 300 interventions" in report
    assert "## The per-issue scripts" in report


def test_scripts_need_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["--quick", "--no-redis", "--scripts"])
    assert result.exit_code == 2
    assert "benchmarks/scripts.toml not found" in result.output
