"""The per-issue benchmark scripts behind ``docs/benchmarks.md``, run from one manifest.

``benchmarks/scripts.toml`` in a memcore checkout lists each script with the arguments of
its figures in the docs and a small run for CI. ``memcore bench --scripts`` runs them all
after the comparison, from the checkout's root and with this interpreter, and keeps each
script's output in ``<out>/scripts/<script>.txt``.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

MANIFEST = Path("benchmarks/scripts.toml")
SMALL_RUN_TIMEOUT_S = 600


@dataclass(frozen=True)
class Script:
    """One script: its path from the root, its runs' arguments, and a line its table holds."""

    path: str
    runs: tuple[tuple[str, ...], ...]
    small: tuple[str, ...]
    expect: str


@dataclass(frozen=True)
class ScriptRun:
    """What one run of a script did: its command, its seconds, and why it failed (if so)."""

    command: str
    seconds: float
    output: Path
    failure: str | None = None


def load_manifest(manifest: Path) -> list[Script]:
    """The scripts ``manifest`` lists, in its order."""
    if sys.version_info >= (3, 11):
        import tomllib  # noqa: PLC0415 - only --scripts reads TOML
    else:  # pragma: no cover - Python 3.10: the bench extra installs tomli
        import tomli as tomllib  # noqa: PLC0415

    entries = tomllib.loads(manifest.read_text(encoding="utf-8"))["script"]
    return [
        Script(
            path=entry["path"],
            runs=tuple(tuple(args) for args in entry["runs"]),
            small=tuple(entry["small"]),
            expect=entry["expect"],
        )
        for entry in entries
    ]


def run_scripts(
    manifest: Path,
    out_dir: Path,
    *,
    small: bool,
    on_done: Callable[[ScriptRun], object] = lambda _run: None,
) -> list[ScriptRun]:
    """Run every script of ``manifest`` (each run in turn); a failure does not stop the rest.

    The root is the directory holding ``benchmarks/``. With ``small``, each script runs
    once with its small arguments, under a timeout; otherwise every documented run, as
    long as it takes. ``on_done`` hears of each run as it ends.
    """
    root = manifest.resolve().parent.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for script in load_manifest(manifest):
        output = out_dir / f"{Path(script.path).stem}.txt"
        sections = []
        for args in (script.small,) if small else script.runs:
            run, text = _run(
                script, args, root, output, timeout=SMALL_RUN_TIMEOUT_S if small else None
            )
            sections.append(f"$ {run.command}\n\n{text}")
            done.append(run)
            on_done(run)
        output.write_text("\n".join(sections), encoding="utf-8")
    return done


def _run(
    script: Script, args: tuple[str, ...], root: Path, output: Path, *, timeout: float | None
) -> tuple[ScriptRun, str]:
    command = shlex.join(["python", script.path, *args])
    started = time.perf_counter()
    try:
        finished = subprocess.run(  # noqa: S603 - the checkout's own scripts
            [sys.executable, script.path, *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        seconds = time.perf_counter() - started
        return ScriptRun(command, seconds, output, f"no result within {timeout:.0f} s"), ""
    seconds = time.perf_counter() - started
    failure = None
    if finished.returncode != 0:
        failure = f"exit code {finished.returncode}: {finished.stderr.strip()[-2000:]}"
    elif script.expect not in finished.stdout:
        failure = f"its output lacks {script.expect!r}"
    return ScriptRun(command, seconds, output, failure), finished.stdout


def markdown(runs: Sequence[ScriptRun], out_dir: Path) -> str:
    """The section of ``results.md`` that lists each script run, its output and its time."""
    lines = [
        "## The per-issue scripts",
        "",
        "| command | output | seconds | result |",
        "|---|---|---|---|",
    ]
    for run in runs:
        where = run.output.relative_to(out_dir).as_posix()
        result = f"failed: {run.failure.splitlines()[0]}" if run.failure else "ok"
        result = result.replace("|", "\\|")  # a pipe in a script's error would split the row
        lines.append(f"| `{run.command}` | [{where}]({where}) | {run.seconds:,.0f} | {result} |")
    return "\n".join(lines) + "\n"
