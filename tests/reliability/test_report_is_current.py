"""The report committed in docs/reliability.md is the one the last run wrote.

``tox -e reliability`` writes its report to ``build/reliability.md`` (the tree stays
clean), then runs this. Counts that vary run to run (retries, latencies) are not
compared; what the run covered and how it ended is: the fault scenarios and first-day
cases by name, how many survived, and the hostile-input cases passed and failed. When
this fails, regenerate the committed copy (the command is in docs/reliability.md).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "reliability.md"
GENERATED = Path(os.environ.get("MEMCORE_RELIABILITY_REPORT", ROOT / "build" / "reliability.md"))
START, END = "<!-- report:start -->", "<!-- report:end -->"
_HEADERS = ("| fault |", "| case |", "|---")


def _section(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return text[text.index(START) : text.index(END)]


def facts(section: str) -> dict[str, object]:
    """What a report says the run covered and how it ended."""
    rows = [
        line.split("|")[1].strip()
        for line in section.splitlines()
        if line.startswith("|") and not line.startswith(_HEADERS)
    ]
    survived = re.search(r"survived: (\d+) of (\d+)", section)
    hostile = re.search(r"cases passed (\d+), cases failed (\d+)", section)
    return {
        "rows": sorted(rows),
        "survived": survived.groups() if survived else None,
        "hostile": hostile.groups() if hostile else None,
        "any row failed": "**NO**" in section,
    }


def test_the_committed_report_matches_this_run() -> None:
    assert GENERATED.is_file(), f"no {GENERATED}: run the reliability suite first"
    generated = facts(_section(GENERATED))
    assert generated["rows"], "the generated report lists no fault scenario"
    assert facts(_section(COMMITTED)) == generated, (
        f"{COMMITTED.relative_to(ROOT)} is stale: regenerate it "
        "(pytest ... --reliability-report=docs/reliability.md)"
    )
