"""Helpers shared by the test modules (a unique name: conftest is not importable)."""

from __future__ import annotations

from sentence_transformers import SentenceTransformer

from memcore_sentence_transformers import LocalEmbedder, LocalSettings


def local_embedder(model: SentenceTransformer, **settings: object) -> LocalEmbedder:
    """A fresh embedder sharing an already loaded model."""
    return LocalEmbedder(LocalSettings(**settings), preloaded=model)  # type: ignore[arg-type]
