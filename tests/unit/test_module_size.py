"""House rule: no module is over 400 lines, in the core, any adapter or the bench package."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parents[2]
SOURCES = [ROOT / "src", *sorted(ROOT.glob("adapters/*/src")), ROOT / "benchmarks" / "src"]
MAX_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    modules = [path for source in SOURCES for path in sorted(source.rglob("*.py"))]
    assert len(modules) > 100, f"too few modules found under {SOURCES}"
    sizes = {path.relative_to(ROOT): len(path.read_text("utf-8").splitlines()) for path in modules}
    over = {str(path): lines for path, lines in sizes.items() if lines > MAX_LINES}
    assert not over, f"split these modules (over {MAX_LINES} lines): {over}"
