from __future__ import annotations

import pytest

from conftest import load_example

session = load_example("mcp_client_session")


async def test_the_session_records_updates_and_finds_what_worked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    hits = await session.main()
    assert [(hit["text"], hit["outcome"]) for hit in hits] == [
        ("Two minutes of box breathing.", "task_completed"),
        ("List five things you can see.", "user_resisted"),
    ]
    out = capsys.readouterr().out
    assert out.startswith("tools: record_intervention, search_interventions, update_outcome, ")
    assert "\ncalm_down: 1 of 2 completed\n" in out
    assert "error: True Error executing tool search_interventions: invalid argument k" in out
