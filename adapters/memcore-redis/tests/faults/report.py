"""The counts of a run, and their markdown table in docs/reliability.md."""

from __future__ import annotations

import datetime as dt
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .workload import Tally

START, END = "<!-- report:start -->", "<!-- report:end -->"
MUST_BE_ZERO = ("lost", "duplicated", "orphan_keys", "indexing_failures")


@dataclass
class Report:
    """Rows gathered while the suite runs (one per fault test), plus free-form sections."""

    rows: list[tuple[Tally, bool]] = field(default_factory=list)
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
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    path.write_text(pattern.sub(lambda _: f"{START}\n{body}\n{END}", text), encoding="utf-8")
