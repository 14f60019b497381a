from __future__ import annotations

import pytest

from conftest import load_example

session = load_example("mcp_client_session")


async def test_the_session_records_then_finds_what_worked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    hits = await session.main()
    assert [hit["text"] for hit in hits] == ["Two minutes of box breathing."]
    out = capsys.readouterr().out
    assert out.startswith("tools: record_intervention, search_interventions, ")
    assert "error: True Error executing tool search_interventions: invalid argument k" in out
