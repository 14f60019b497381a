"""The fenced code blocks of README.md and docs/, as the snippet tests run them.

A block is marked by an HTML comment on the line just before its fence (invisible in the
rendered page):

- ``<!-- skip: reason -->``: not run; the test reports the reason.
- ``<!-- continue -->``: a Python block that runs after the block before it, in the same
  program (it uses names defined there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")))

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
_DIRECTIVE = re.compile(r"^<!--\s*(?P<name>skip|continue)\s*(?::\s*(?P<reason>.*?))?\s*-->$")


@dataclass(frozen=True)
class Snippet:
    """One fenced block: where it is, its language, its code and its marker."""

    page: Path
    line: int
    lang: str
    code: str
    skip: str | None = None
    continues: bool = False

    @property
    def id(self) -> str:
        """``docs/concepts.md:60``: the test id."""
        return f"{self.page.relative_to(ROOT).as_posix()}:{self.line}"


def snippets(page: Path) -> list[Snippet]:
    """Every fenced block of ``page``, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, index = [], 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        start, fence, indent = index, match["fence"], len(match["indent"])
        index += 1
        body = []
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index][indent:])
            index += 1
        index += 1
        directive = _DIRECTIVE.match(lines[start - 1].strip()) if start else None
        if directive is not None and directive["name"] == "skip" and not directive["reason"]:
            raise ValueError(f"{page}:{start}: a skip marker needs a reason")
        found.append(
            Snippet(
                page=page,
                line=start + 1,
                lang=match["lang"],
                code="\n".join(body) + "\n",
                skip=directive["reason"] if directive and directive["name"] == "skip" else None,
                continues=bool(directive and directive["name"] == "continue"),
            )
        )
    return found


def program(blocks: list[Snippet], at: int) -> str:
    """The Python that runs block ``at``: it and the blocks it continues, in order."""
    start = at
    while blocks[start].continues:
        start -= 1
        while blocks[start].lang != "python":
            start -= 1
    return "\n".join(block.code for block in blocks[start : at + 1] if block.lang == "python")
