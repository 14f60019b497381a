"""Embeddings from callers, validated once into :data:`~memcore.ports.UnitVectors`.

The rule (listed with every other in :mod:`memcore.validation`): a real floating-point
array of shape ``(n, dimension)`` (a ``(dimension,)`` row for one), finite, each row with
a non-zero norm. What passes is scaled to unit length once, in float32, so a store's
cosine similarity is one dot product and nothing below the service checks it again.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from memcore.errors import ValidationError
from memcore.ports import UnitVectors

__all__ = ["squared_norms", "unit_vector", "unit_vectors"]

_FLOAT32 = np.dtype(np.float32)  # the native one: a big-endian float32 is another dtype
_UNIT_SQUARE = 1e-5
"""A squared length this close to 1 is unit length: float32 rounding of a normalised
vector's squares stays well within it (the length then differs by at most 5e-6)."""


def squared_norms(rows: NDArray[np.floating[Any]]) -> NDArray[np.floating[Any]] | None:
    """Each row's squared length, if every one is finite and non-zero, in one pass (einsum
    raises no FP warnings); ``None`` otherwise, including when a square over- or
    underflowed, so that the caller's exact checks decide.
    """
    squares: NDArray[np.floating[Any]] = np.einsum("ij,ij->i", rows, rows)
    return squares if np.isfinite(squares).all() and squares.all() else None


def unit_vectors(vectors: object, rows: int, dimension: int) -> UnitVectors:
    """``vectors`` as :data:`~memcore.ports.UnitVectors`: a new C-contiguous float32
    ``(rows, dimension)`` array with every row scaled to unit length, else raise.

    Accepts any real floating dtype (converted without touching the input); rejects other
    dtypes, wrong shapes, NaN/Inf and all-zero rows (cosine is undefined for them). A
    ``(dimension,)`` row is accepted for ``rows == 1``.
    """
    if rows == 1 and type(vectors) is np.ndarray and vectors.dtype is _FLOAT32:
        # A single write or query, the hot path: a native float32 row, one scalar, one
        # scaling, as few numpy calls as can be (each costs microseconds on a cold cache).
        # vdot, like einsum, raises no FP warnings (an overflow is inf, checked next);
        # anything else goes the general way, which says what is wrong.
        shape = vectors.shape
        if shape in ((dimension,), (1, dimension)):
            square = float(np.vdot(vectors, vectors))
            if math.isfinite(square) and square > 0:
                # A new array (a ufunc's output is C-contiguous), shaped (1, dimension);
                # float32 times a Python float stays float32 (NEP 50).
                scaled = cast("NDArray[np.float32]", vectors * (1.0 / math.sqrt(square)))
                return UnitVectors(scaled.reshape(1, dimension))
    rows32 = _float32_rows(vectors, rows, dimension)
    squares = squared_norms(rows32)
    scalable: NDArray[np.floating[Any]] = rows32
    if squares is None:
        if not np.isfinite(rows32).all():
            raise ValidationError("embedding", "must contain only finite values (no NaN or Inf)")
        # Decide in float64: float32 squares of huge or tiny values over- or underflow.
        scalable = rows32.astype(np.float64)
        squares = np.einsum("ij,ij->i", scalable, scalable)
        if rows and not squares.all():
            raise ValidationError("embedding", "rows must not be all zeros")
    scaled = scalable / np.sqrt(squares)[:, np.newaxis]
    return UnitVectors(np.ascontiguousarray(scaled, dtype=np.float32))


def unit_vector(vector: object, dimension: int) -> UnitVectors:
    """One vector (a query) under the rule of :func:`unit_vectors`, as a C-contiguous
    float32 ``(dimension,)`` array of unit length, else raise.

    A query is only read, never kept: a native float32 one already of unit length (most
    embedders normalise) and contiguous is used as it is, without a copy; anything else
    is scaled by :func:`unit_vectors`.
    """
    if (
        type(vector) is np.ndarray
        and vector.dtype is _FLOAT32
        and vector.shape == (dimension,)
        and vector.flags.c_contiguous
        and abs(float(np.vdot(vector, vector)) - 1.0) <= _UNIT_SQUARE  # NaN is not
    ):
        return UnitVectors(vector)
    return UnitVectors(unit_vectors(vector, 1, dimension)[0])


def _float32_rows(vectors: object, rows: int, dimension: int) -> NDArray[np.float32]:
    """``vectors`` as a float32 ``(rows, dimension)`` array (the input itself if it is
    one), or a :class:`~memcore.errors.ValidationError` for its type, dtype or shape.
    """
    if not isinstance(vectors, np.ndarray):
        raise ValidationError("embedding", f"must be a numpy array, not {type(vectors).__name__}")
    if vectors.dtype.kind != "f":
        raise ValidationError("embedding", f"dtype must be floating point, not {vectors.dtype}")
    if vectors.ndim == 1 and rows == 1:
        vectors = vectors.reshape(1, -1)
    if vectors.shape != (rows, dimension):
        raise ValidationError(
            "embedding", f"shape must be ({rows}, {dimension}), got {tuple(vectors.shape)}"
        )
    if vectors.dtype == np.float32:  # nothing to convert: the common case
        return vectors
    with np.errstate(over="ignore"):  # float64 beyond float32 becomes inf, rejected after
        return np.asarray(vectors, dtype=np.float32)
