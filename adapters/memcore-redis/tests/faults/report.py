"""The counts of a run, and their markdown table in docs/reliability.md."""

from __future__ import annotations

import datetime as dt
import platform
import re
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from memcore import MemcoreError

from .workload import Tally

START, END = "<!-- report:start -->", "<!-- report:end -->"
MUST_BE_ZERO = ("lost", "duplicated", "orphan_keys", "indexing_failures")
CASE_ZEROS = ("lost", "duplicated", "partial_as_complete", "untyped")
T = TypeVar("T")


@dataclass
class Case:
    """One case a user meets on their first day (tests/faults/test_trust*.py): what
    memcore said against what it did. Every count must stay 0.
    """

    name: str
    lost: int = 0
    """Acknowledged (stored) writes missing afterwards."""
    duplicated: int = 0
    """Records present more than once."""
    partial_as_complete: int = 0
    """Reads that said ``complete`` while records were missing from them."""
    untyped: int = 0
    """Exceptions that were not a :class:`~memcore.MemcoreError`."""

    async def call(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable``, counting an exception outside memcore's tree."""
        try:
            return await awaitable
        except MemcoreError:
            raise
        except Exception:
            self.untyped += 1
            raise

    def read(self, *, complete: bool, seen: int, expected: int) -> None:
        """Count a read that claimed ``complete`` but saw fewer than ``expected``."""
        self.partial_as_complete += complete and seen < expected


@dataclass
class Report:
    """Rows gathered while the suite runs (one per fault test), plus free-form sections."""

    rows: list[tuple[Tally, bool]] = field(default_factory=list)
    cases: list[tuple[Case, bool]] = field(default_factory=list)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, row: Tally, *, passed: bool) -> None:
        self.rows.append((row, passed))


REPORT = Report()


def _table() -> list[str]:
    head = (
        "| fault | what the agent saw | injected | acknowledged | deferred | present after "
        "recovery | lost | duplicated | orphan keys | indexing failures | passed |"
    )
    lines = [head, "|" + "---|" * 11]
    for row, passed in sorted(REPORT.rows, key=lambda item: item[0].fault):
        lines.append(
            f"| {row.fault} | {row.outcome} | {row.injected} | {row.acknowledged} | "
            f"{row.deferred} | {row.present} | {row.lost} | {row.duplicated} | "
            f"{row.orphan_keys} | {row.indexing_failures} | {'yes' if passed else '**NO**'} |"
        )
    return lines


def _cases() -> list[str]:
    head = (
        "| case | acknowledged writes lost | duplicated | partial results shown as complete "
        "| untyped exceptions | passed |"
    )
    lines = [
        head,
        "|" + "---|" * 6,
    ]
    for case, passed in sorted(REPORT.cases, key=lambda item: item[0].name):
        counts = " | ".join(str(getattr(case, name)) for name in CASE_ZEROS)
        lines.append(f"| {case.name} | {counts} | {'yes' if passed else '**NO**'} |")
    return lines


def render() -> str:
    """The report section's body."""
    rows = [row for row, _ in REPORT.rows]
    totals = {name: sum(getattr(row, name) for row in rows) for name in MUST_BE_ZERO}
    survived = sum(passed for _, passed in REPORT.rows)
    lines = [
        f"Faults injected: {sum(r.injected for r in rows)} in {len(rows)} scenarios; "
        f"survived: {survived} of {len(rows)}. Acknowledged writes: "
        f"{sum(r.acknowledged for r in rows)}, deferred and replayed: "
        f"{sum(r.deferred for r in rows)}; "
        + ", ".join(f"{name.replace('_', ' ')}: {value}" for name, value in totals.items())
        + ".",
        "",
        *_table(),
    ]
    if REPORT.cases:
        lines += ["", "**First-day cases** (tests/faults/test_trust*.py):", "", *_cases()]
    for title, values in REPORT.sections.items():
        lines += ["", f"**{title}**: " + ", ".join(f"{k} {v}" for k, v in values.items()) + "."]
    return "\n".join(lines)


def render_into(path: Path, command: str, exitstatus: int) -> None:
    """Replace the report section of ``path``."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = (
        f"Regenerate: `{command}` (last run {stamp}, Python {platform.python_version()}, "
        f"pytest exit status {exitstatus}).\n\n{render()}"
    )
    section = f"{START}\n{body}\n{END}"
    if not path.exists():  # a fresh report (build/reliability.md), not a page to update
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(section + "\n", encoding="utf-8")
        return
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    path.write_text(pattern.sub(lambda _: section, text), encoding="utf-8")
