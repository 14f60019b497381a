"""A deterministic, dependency-free embedder for tests and offline demos.

:class:`HashingEmbedder` hashes word unigrams and bigrams into a fixed number of signed
buckets (the "hashing trick"). Texts that share words get similar vectors, which is
enough to exercise search end to end, but it knows nothing of meaning: use a real model
(``agent-memcore[local]`` or ``agent-memcore-openai``) for real memories.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import re
import time
from collections.abc import Sequence

import numpy as np

from memcore.domain import HealthCheck, HealthStatus
from memcore.ports import Vectors
from memcore.settings import MemcoreSettings

_TOKEN = re.compile(r"\w+", re.UNICODE)
_EMPTY_FEATURE = "\x00empty"
_MIN_DIMENSION = 2


class HashingEmbedder:
    """Feature-hashing embedder: deterministic across processes and platforms."""

    backend = "hashing"

    def __init__(self, dimension: int = 384) -> None:
        if dimension < _MIN_DIMENSION:
            msg = f"dimension must be at least {_MIN_DIMENSION}"
            raise ValueError(msg)
        self._dimension = dimension

    @classmethod
    def from_settings(cls, settings: MemcoreSettings) -> HashingEmbedder:
        """Build from ``MEMCORE_HASHING__DIMENSION``."""
        return cls(dimension=settings.hashing.dimension)

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def model(self) -> str:
        return "memcore-hashing-v1"

    async def embed(self, texts: Sequence[str]) -> Vectors:
        return self.embed_sync(texts)

    def embed_sync(self, texts: Sequence[str]) -> Vectors:
        """The same as :meth:`embed`, for callers without an event loop."""
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            counts: dict[int, float] = {}
            for feature in _features(text):
                bucket, sign = _slot(feature, self._dimension)
                counts[bucket] = counts.get(bucket, 0.0) + sign
            # Sums of +-1 are exact, in any order, and so is the sum of their squares: the
            # same vector as adding one feature at a time into the array and dividing by
            # its float32 norm (a float64 sqrt or quotient rounded to float32 is the
            # float32 one), with one numpy call a text instead of one per feature.
            norm = np.float32(math.sqrt(sum(count * count for count in counts.values())))
            if norm == 0.0:  # features cancelled out; fall back to a fixed direction
                out[row, 0] = 1.0
            else:
                scale = float(norm)
                out[row, list(counts)] = [count / scale for count in counts.values()]
        return out

    async def health(self) -> HealthCheck:
        started = time.perf_counter()
        self.embed_sync(["health"])
        return HealthCheck(
            component="embedder",
            status=HealthStatus.HEALTHY,
            latency_ms=(time.perf_counter() - started) * 1000,
            detail=f"{self.model}, {self._dimension} dims",
            facts={"backend": self.backend, "model": self.model, "dimension": self._dimension},
        )

    async def aclose(self) -> None:
        return None


@functools.lru_cache(maxsize=65_536)
def _slot(feature: str, dimension: int) -> tuple[int, float]:
    """The bucket a feature counts in, and its sign (words repeat: cached)."""
    digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
    bucket, sign = divmod(digest, 2)
    return bucket % dimension, 1.0 if sign else -1.0


def _features(text: str) -> list[str]:
    words = _TOKEN.findall(text.lower())
    if not words:
        return [_EMPTY_FEATURE]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
