"""The embedder contract: one test per promise in :class:`memcore.ports.Embedder`.

Subclass :class:`EmbedderContract` and provide the ``embedder`` fixture; set
``deterministic = False`` for a backend whose vectors may vary between calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import ClassVar

import numpy as np
import pytest

from memcore.ports import Embedder
from memcore.testing._suite import ContractSuite

TEXTS = (
    "Try two minutes of box breathing before the call.",
    "The user completed the walking task after a short reminder.",
    "",
    "   ",
    "Ünïcödé, emoji 🧘, 中文, العربية and a\nnewline\ttab",
    "x" * 2_000,
)


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


class EmbedderContract(ContractSuite):
    """Every promise of :class:`memcore.ports.Embedder`; subclass and provide ``embedder``."""

    #: False for backends that may return slightly different vectors for the same text.
    deterministic: ClassVar[bool] = True

    @pytest.fixture
    async def embedder(self) -> AsyncIterator[Embedder]:
        """Yield a ready embedder and close it afterwards."""
        raise NotImplementedError("subclass EmbedderContract and provide the `embedder` fixture")
        yield  # pragma: no cover  # noqa: PT022 - makes this an async generator fixture

    async def test_returns_float32_rows_of_the_stated_dimension(self, embedder: Embedder) -> None:
        """Troubleshooting: cast to float32 and return a C-contiguous (n, dimension) array."""
        vectors = await embedder.embed(list(TEXTS))
        assert isinstance(vectors, np.ndarray)
        assert vectors.dtype == np.float32
        assert vectors.shape == (len(TEXTS), embedder.dimension)
        assert vectors.flags.c_contiguous

    async def test_dimension_and_model_are_stable(self, embedder: Embedder) -> None:
        """Troubleshooting: ``dimension`` must not change once vectors were produced."""
        before = (embedder.dimension, embedder.model)
        await embedder.embed(["hello"])
        assert (embedder.dimension, embedder.model) == before
        assert isinstance(embedder.model, str)
        assert embedder.model
        assert embedder.dimension > 0

    async def test_values_are_finite_for_any_text(self, embedder: Embedder) -> None:
        """Troubleshooting: empty, blank, unicode and long texts must not give NaN or Inf
        (a zero vector normalised is NaN).
        """
        vectors = await embedder.embed(list(TEXTS))
        assert np.isfinite(vectors).all()
        assert (np.linalg.norm(vectors, axis=1) > 0).all()

    async def test_a_batch_equals_its_texts_embedded_alone(self, embedder: Embedder) -> None:
        """Troubleshooting: padding or batching must not leak between texts."""
        batch = await embedder.embed(list(TEXTS))
        singles = np.concatenate([await embedder.embed([text]) for text in TEXTS])
        assert (_cosine_rows(batch, singles) > 0.999).all()

    async def test_concurrent_calls_get_their_own_rows(self, embedder: Embedder) -> None:
        """Troubleshooting: a coalescing or pooled embedder must route each row to its caller."""
        texts = [f"sentence number {n} about habit {n % 3}" for n in range(12)]
        expected = await embedder.embed(texts)
        results = await asyncio.gather(*(embedder.embed([text]) for text in texts))
        assert (_cosine_rows(np.concatenate(results), expected) > 0.999).all()

    async def test_same_text_same_vector(self, embedder: Embedder) -> None:
        """Troubleshooting: set ``deterministic = False`` only for backends that promise nothing."""
        first = await embedder.embed(["stable input"])
        second = await embedder.embed(["stable input"])
        if self.deterministic:
            np.testing.assert_allclose(first, second, rtol=0, atol=1e-6)
        else:
            assert (_cosine_rows(first, second) > 0.99).all()

    async def test_no_texts_give_an_empty_matrix(self, embedder: Embedder) -> None:
        """Troubleshooting: do not call the backend for zero texts; return shape (0, dimension)."""
        vectors = await embedder.embed([])
        assert vectors.shape == (0, embedder.dimension)
        assert vectors.dtype == np.float32

    async def test_health_reports_without_raising(self, embedder: Embedder) -> None:
        """Troubleshooting: health() returns a HealthCheck for the embedder; it never raises."""
        check = await embedder.health()
        assert check.status.value == "healthy"
        assert check.latency_ms >= 0
