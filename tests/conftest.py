from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _offline_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Core tests use the hashing embedder even where the local model is installed."""
    monkeypatch.setenv("MEMCORE_EMBEDDER", "hashing")


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outboxes, snapshots and epochs of a test go to its own directory, not the home one."""
    monkeypatch.setenv("MEMCORE_STATE_DIR", str(tmp_path_factory.mktemp("state")))
