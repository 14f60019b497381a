from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _offline_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Core tests use the hashing embedder even where the local model is installed."""
    monkeypatch.setenv("MEMCORE_EMBEDDER", "hashing")
