"""Every code block of README.md and docs/ runs (Python, bash) or parses (JSON, TOML).

A block that cannot run here says why with ``<!-- skip: reason -->`` on the line before
its fence, and the test reports that reason as its skip; the repository files its shell
commands name must exist even then. Blocks without a language are figures (diagrams,
layouts) and are not collected; any other language needs a marker.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomllib
from markdown_snippets import PAGES, ROOT, Snippet, program, snippets

RUNNER = """
import ast, asyncio, inspect, sys
source = open(sys.argv[1], encoding="utf-8").read()
code = compile(source, sys.argv[2], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
namespace = {"__name__": "__main__"}
if code.co_flags & inspect.CO_COROUTINE:
    asyncio.run(eval(code, namespace))
else:
    exec(code, namespace)
"""
CHECKED = {"python", "bash", "json", "toml"}
TIMEOUT = 60

CASES = [
    (blocks, at)
    for page in PAGES
    for blocks in [snippets(page)]
    for at, block in enumerate(blocks)
    if block.lang
]


def _env(tmp_path: Path) -> dict[str, str]:
    """This interpreter's scripts first on PATH; state and caches in ``tmp_path``."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MEMCORE_STATE_DIR": str(tmp_path / "state"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _run(command: list[str], block: Snippet, tmp_path: Path) -> None:
    """Run ``command`` in a process group of its own, its output to a file; whatever it
    left running in the background (a server started with ``&``) is stopped after it.
    """
    output = tmp_path / "output.txt"
    with output.open("w") as sink:
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=_env(tmp_path),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = process.wait(timeout=TIMEOUT)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    text = output.read_text(encoding="utf-8", errors="replace")
    assert returncode == 0, f"{block.id} failed:\n{block.code}\n{text}"


@pytest.mark.parametrize(("blocks", "at"), CASES, ids=[blocks[at].id for blocks, at in CASES])
def test_snippet(blocks: list[Snippet], at: int, tmp_path: Path) -> None:
    block = blocks[at]
    if block.skip is not None:
        pytest.skip(f"{block.id}: {block.skip}")
    assert block.lang in CHECKED, f"{block.id}: {block.lang} blocks need <!-- skip: reason -->"
    if block.lang == "python":
        script = tmp_path / "snippet.py"
        script.write_text(program(blocks, at), encoding="utf-8")
        _run([sys.executable, "-c", RUNNER, str(script), block.id], block, tmp_path)
    elif block.lang == "bash":
        _run(["bash", "-euo", "pipefail", "-c", block.code], block, tmp_path)
    elif block.lang == "json":
        json.loads(block.code)
    else:
        tomllib.loads(block.code)


def test_a_block_leaves_nothing_running(tmp_path: Path) -> None:
    """A server a block starts in the background (``memcore redis-server ... &``) is
    stopped when the block ends, and does not hold the test until its timeout.
    """
    code = "sleep 300 &\necho $! > pid\n"
    block = Snippet(ROOT / "README.md", 1, "bash", code)
    _run(["bash", "-euo", "pipefail", "-c", code], block, tmp_path)
    pid = (tmp_path / "pid").read_text().strip()
    deadline = time.monotonic() + 5  # SIGKILL is delivered at once, its effect soon after
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)


def _running(pid: str) -> bool:
    """Whether process ``pid`` runs (a dead one not yet reaped does not)."""
    try:
        return Path("/proc", pid, "stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_the_pages_are_found() -> None:
    """The harness reads README.md and every page under docs/ (guards a moved tree)."""
    assert ROOT / "README.md" in PAGES
    assert ROOT / "docs" / "getting-started.md" in PAGES
    assert len(CASES) > 50


def test_every_docs_page_the_code_names_exists() -> None:
    """A ``docs/....md`` named in an error, a docstring or a log line is a page that exists."""
    sources = [*(ROOT / "src").rglob("*.py"), *(ROOT / "adapters").glob("*/src/**/*.py")]
    named = {
        (source.relative_to(ROOT).as_posix(), page)
        for source in sources
        for page in re.findall(r"docs/[\w/.-]+?\.md", source.read_text(encoding="utf-8"))
    }
    assert named
    assert [(source, page) for source, page in sorted(named) if not (ROOT / page).is_file()] == []


_REPO_PATH = re.compile(
    r"(?<![\w/.-])((?:adapters|benchmarks|scripts|examples|tests|docs|ops)/[\w./-]*\w)"
)


def test_every_repository_path_a_shell_block_names_exists() -> None:
    """Skipped or not, a command's files are real: ``scripts/demo``, a benchmark script..."""
    missing = []
    for page in PAGES:
        for block in snippets(page):
            if block.lang != "bash":
                continue
            cwd = ROOT
            for line in block.code.splitlines():
                command = line.split("#", 1)[0]
                if command.startswith("cd "):
                    cwd = ROOT / command.split()[1]
                    continue
                missing += [
                    f"{block.id}: {path}"
                    for path in _REPO_PATH.findall(command)
                    if not (cwd / path).exists() and not path.startswith(("docs/bench", "build/"))
                ]
    assert missing == []
