"""The in-memory store scores small matrices on one BLAS thread and leaves the process's
BLAS thread count as it found it, even with searches running in many threads at once.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from memcore import Intervention, SearchFilter
from memcore.adapters import memory
from memcore.adapters.memory import InMemoryStore
from memcore.domain import EmbeddingSchema, utcnow
from memcore.ports import UnitVectors

_BLAS = ThreadpoolController().select(user_api="blas")


async def _store(rows: int, dimension: int = 64) -> tuple[InMemoryStore, np.ndarray]:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((rows, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = InMemoryStore()
    await store.ensure_schema(EmbeddingSchema(dimension, "test"))
    records = [
        Intervention(id=f"i{n}", user_id="u", intervention_text="t", task="t", created_at=utcnow())
        for n in range(rows)
    ]
    await store.upsert("u", records, UnitVectors(vectors))
    return store, vectors


def _threads() -> list[int]:
    return [info["num_threads"] for info in _BLAS.info()]


class _Spy(np.ndarray):
    """A matrix that notes the BLAS thread counts each time it is scored."""

    seen: list[list[int]]

    def __matmul__(self, other: object) -> np.ndarray:
        _Spy.seen.append(_threads())
        return np.asarray(self) @ other


@pytest.mark.parametrize(("most", "limited"), [(1 << 22, True), (10, False)])
def test_small_matrices_are_scored_on_one_blas_thread_large_ones_on_all(
    monkeypatch: pytest.MonkeyPatch, most: int, limited: bool
) -> None:
    if not _BLAS.info():
        pytest.skip("numpy was built without a BLAS threadpoolctl knows")
    monkeypatch.setattr(memory, "_ONE_THREAD_MAX", most)
    matrix = np.eye(4, 8, dtype=np.float32).view(_Spy)
    _Spy.seen = []
    with _BLAS.limit(limits=2):
        before = _threads()
        scores = memory._scores(matrix, np.ones(8, dtype=np.float32))
        assert _threads() == before  # as it was
    assert np.asarray(scores).tolist() == [1.0] * 4
    assert _Spy.seen == [[1] * len(before) if limited else before]


def test_concurrent_searches_leave_the_blas_thread_count_as_it_was() -> None:
    if not _BLAS.info():
        pytest.skip("numpy was built without a BLAS threadpoolctl knows")
    store, vectors = asyncio.run(_store(2_000))
    start = threading.Barrier(4)

    def search(n: int) -> str:
        start.wait()
        for _ in range(50):
            hits = asyncio.run(store.search("u", UnitVectors(vectors[n]), 1, SearchFilter()))
        return hits[0].record.id

    with _BLAS.limit(limits=2):
        before = _threads()
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(search, range(4))) == ["i0", "i1", "i2", "i3"]
        assert _threads() == before
