from __future__ import annotations

import pytest
from sentence_transformers import SentenceTransformer

from memcore_sentence_transformers import LocalEmbedder, LocalSettings


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformer:
    """The bundled model, loaded once per session through the adapter's own loader."""
    return LocalEmbedder(LocalSettings())._load()


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outboxes, snapshots and epochs of a test go to its own directory, not the home one."""
    monkeypatch.setenv("MEMCORE_STATE_DIR", str(tmp_path_factory.mktemp("state")))
