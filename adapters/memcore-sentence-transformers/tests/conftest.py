from __future__ import annotations

import pytest
from sentence_transformers import SentenceTransformer

from memcore_sentence_transformers import LocalEmbedder, LocalSettings


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformer:
    """The bundled model, loaded once per session through the adapter's own loader."""
    return LocalEmbedder(LocalSettings())._load()
