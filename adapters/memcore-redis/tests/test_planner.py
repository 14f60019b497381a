"""The KNN planner's counts: learnt in the background, one at a time, never waited for."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from numpy.typing import NDArray

from memcore.domain import SearchFilter
from memcore.testing import SCHEMA, unit_vectors
from memcore.testing._suite import intervention
from memcore_redis import RedisStore
from memcore_redis.query import filter_query

from .conftest import StoreFactory

EVERYTHING = SearchFilter()


async def _store_of_40(make_store: StoreFactory) -> tuple[RedisStore, NDArray[np.float32]]:
    store = make_store(adhoc_max_candidates=10)
    await store.ensure_schema(SCHEMA)
    vectors = unit_vectors(40, seed=5)
    await store.upsert("u", [intervention("u", n) for n in range(40)], vectors)
    return store, vectors


async def test_a_search_returns_before_its_count_and_the_next_uses_the_count(
    make_store: StoreFactory,
) -> None:
    store, vectors = await _store_of_40(make_store)
    assert len(await store.search("u", vectors[0], 3, EVERYTHING)) == 3
    (counting,) = store._counting.values()
    assert not counting.done()  # the search came back without waiting for it
    await counting
    # 40 candidates > ADHOC_MAX_CANDIDATES 10: walk the graph in batches, fresh estimate.
    assert store._planner.choose(filter_query("u", EVERYTHING)) == "BATCHES"
    assert not store._planner.wants_count(filter_query("u", EVERYTHING))
    assert len(await store.search("u", vectors[0], 3, EVERYTHING)) == 3
    assert not store._counting


async def test_concurrent_searches_of_one_prefilter_start_one_count(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, vectors = await _store_of_40(make_store)
    started: list[str] = []
    learn = store._learn

    async def counted(user_id: str, prefilter: str) -> None:
        started.append(prefilter)
        await learn(user_id, prefilter)

    monkeypatch.setattr(store, "_learn", counted)
    found = await asyncio.gather(*(store.search("u", v, 2, EVERYTHING) for v in vectors[:6]))
    assert all(len(hits) == 2 for hits in found)
    other = SearchFilter(metadata={"lang": "en"})
    await store.search("u", vectors[0], 2, other)
    await asyncio.gather(*store._counting.values())
    assert started == [filter_query("u", EVERYTHING), filter_query("u", other)]


async def test_closing_the_store_cancels_a_count_in_flight(make_store: StoreFactory) -> None:
    store, vectors = await _store_of_40(make_store)
    await store.search("u", vectors[0], 3, EVERYTHING)
    (counting,) = store._counting.values()
    await store.aclose()
    assert counting.cancelled()
    assert not store._counting


async def test_a_failed_count_is_dropped_and_asked_again(make_store: StoreFactory) -> None:
    store, _ = await _store_of_40(make_store)
    store._index = "no-such-index"
    await store._learn("u", filter_query("u", EVERYTHING))
    assert store._planner.choose(filter_query("u", EVERYTHING)) is None  # the server's plan
    assert store._planner.wants_count(filter_query("u", EVERYTHING))
