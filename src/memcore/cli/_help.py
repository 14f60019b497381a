"""Help text from docstrings: what ``memcore ... --help`` shows.

Docstrings are written for the API docs (reStructuredText, wrapped at 100 columns); the
terminal gets plain text with each paragraph on one line, wrapped by the terminal, and
square brackets kept (``agent-memcore-redis[server]`` is not rich markup).
"""

from __future__ import annotations

import inspect
import re

import typer
from rich.markup import escape

__all__ = ["plain", "polish"]

_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`<]+?)(?: <[^>]+>)?`")  # :func:`x` -> x
_LITERAL = re.compile(r"``([^`]+)``")  # ``--user`` -> --user
_LIST_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s")


def plain(doc: str) -> str:
    """``doc`` without reST markup, each paragraph (and each list item) on one line."""
    text = _LITERAL.sub(r"\1", _ROLE.sub(lambda match: match[1], inspect.cleandoc(doc)))
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        lines: list[str] = []
        for line in block.splitlines():
            if lines and not _LIST_ITEM.match(line):
                lines[-1] = f"{lines[-1]} {line.strip()}"
            else:
                lines.append(line.rstrip())
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def polish(app: typer.Typer) -> None:
    """Give every command and group of ``app`` its help as :func:`plain` text (once)."""
    for command in app.registered_commands:
        doc = command.help or (inspect.getdoc(command.callback) if command.callback else None)
        if doc and command.help is None:
            command.help = escape(plain(doc))
    for group in app.registered_groups:
        instance = group.typer_instance
        doc = group.help or (instance.info.help if instance else None)
        if isinstance(doc, str) and group.help is None:
            group.help = escape(plain(doc))
        if instance is not None:
            polish(instance)
