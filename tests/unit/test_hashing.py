"""The hashing embedder: its vectors are the per-feature sums, scaled by their float32 norm."""

from __future__ import annotations

import numpy as np
import pytest

from memcore.adapters.hashing import HashingEmbedder, _features, _slot

TEXTS = [
    "",
    "a a",
    "Tried the breathing routine after the check-in",
    "Ünïcode tëxt, ünïcode TËXT: twice",
    " ".join(f"word{n % 37}" for n in range(200)),
]


def _reference(text: str, dimension: int) -> np.ndarray:
    """One feature at a time into a float32 row, divided by numpy's float32 norm."""
    row = np.zeros(dimension, dtype=np.float32)
    for feature in _features(text):
        bucket, sign = _slot(feature, dimension)
        row[bucket] += sign
    norm = np.linalg.norm(row)
    if norm == 0.0:
        row[0] = 1.0
        return row
    return row / norm


@pytest.mark.parametrize("dimension", [2, 16, 384])
def test_each_vector_is_the_reference_bit_for_bit(dimension: int) -> None:
    vectors = HashingEmbedder(dimension).embed_sync(TEXTS)
    assert vectors.dtype == np.float32
    for text, vector in zip(TEXTS, vectors, strict=True):
        assert np.array_equal(vector, _reference(text, dimension)), text
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-6)
