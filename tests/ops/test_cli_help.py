"""Help text reads as plain sentences: no reST markup, no breaks where a docstring wrapped."""

from __future__ import annotations

import re

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from memcore.cli import app
from memcore.cli._help import plain

ROOT = typer.main.get_command(app)
COMMANDS = sorted(ROOT.commands) if isinstance(ROOT, TyperGroup) else []


def test_plain_joins_wrapped_lines_and_drops_markup() -> None:
    doc = """Record with ``--task``, see :func:`memcore.connect` and
    :class:`~memcore.Receipt`.

    - one item
      continued
    - another
    """
    assert plain(doc) == (
        "Record with --task, see memcore.connect and memcore.Receipt.\n\n"
        "- one item continued\n- another"
    )


@pytest.mark.parametrize("name", COMMANDS)
def test_help_has_no_markup_and_each_paragraph_on_one_line(name: str) -> None:
    assert isinstance(ROOT, TyperGroup)
    help_text = ROOT.commands[name].help or ""
    assert help_text
    for paragraph in help_text.split("\n\n"):
        lines = paragraph.splitlines()
        assert all(re.match(r"(?:[-*]|\d+\.) ", line) for line in lines[1:]), paragraph
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert not re.search(r"``|:(func|class|mod|meth|attr):`", result.output)
    first = help_text.split("\n\n")[0].replace("\\[", "[")
    assert first in result.output  # one line on a wide terminal


def test_every_command_is_checked() -> None:
    assert {"record", "search", "inspect", "export", "import", "rotate-key"} <= set(COMMANDS)
