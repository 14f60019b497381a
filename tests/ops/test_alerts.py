"""The shipped alert rules are valid and every metric they and the dashboard use exists."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from memcore.observability import EXPORTED_METRICS

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "memcore-dashboard.json"
METRIC = re.compile(r"\bmemcore_[a-z_]+\b")


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is required in CI: scripts/get-promtool puts it in build/tools")
        pytest.skip("promtool not on PATH (scripts/get-promtool fetches it); required in CI")
    return promtool


def test_promtool_accepts_the_alert_rules() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_rules_and_panels_use_only_exported_metrics() -> None:
    used_by_rules = set(METRIC.findall(RULES.read_text()))
    used_by_panels = {name for expr in _dashboard_exprs() for name in METRIC.findall(expr)}
    assert used_by_rules - EXPORTED_METRICS == set()
    assert used_by_panels - EXPORTED_METRICS == set()
    assert len(used_by_rules) >= 4
    # Every family the library exports is on the dashboard.
    families = {re.sub(r"_(bucket|count|sum)$", "", name) for name in EXPORTED_METRICS}
    assert families <= {re.sub(r"_(bucket|count|sum)$", "", n) for n in used_by_panels}


def test_each_alert_has_a_runbook_section() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text().lower()
    for alert in re.findall(r"alert: (\w+)", RULES.read_text()):
        assert f"### {alert.lower()}" in operations
