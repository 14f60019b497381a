"""Hostile input beyond the contract: no user text reaches a query, and users never meet."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memcore.adapterkit import decode_cursor
from memcore.domain import Outcome, SearchFilter
from memcore.domain.fields import canonical
from memcore.errors import ValidationError
from memcore.testing import HOSTILE_USER_IDS, SCHEMA, unit_vectors
from memcore.testing._suite import T0, intervention
from memcore.validation import validate_user_id
from memcore_redis.encoding import (
    escape_tag,
    key_tag,
    metadata_token,
    tag_text,
    text_from_tag,
)
from memcore_redis.query import filter_query

from .conftest import StoreFactory

METACHARACTERS = ",.<>{}[]\"':;!@#$%^&*()-+=~|/\\ ?`_"


def _valid_user(text: str) -> bool:
    try:
        validate_user_id(text)
    except ValidationError:
        return False
    return True


user_ids = st.text(
    alphabet=st.one_of(st.sampled_from(METACHARACTERS), st.characters(codec="utf-8")),
    min_size=1,
    max_size=24,
).filter(_valid_user)


@given(user=user_ids)
def test_user_text_reaches_the_query_only_literal_and_escaped(user: str) -> None:
    user = canonical(user)  # as validation hands it on (a filter's values are NFC too)
    query = filter_query(
        user, SearchFilter(task=user, metadata={"k": user}, outcomes=frozenset({Outcome.ESCALATED}))
    )
    tag = tag_text(user)
    assert text_from_tag(tag) == user
    # A valid id is its own tag unless it starts with the marker of the hex form.
    assert (tag == user) == (not user.startswith("~"))
    escaped = escape_tag(tag)
    # Every ASCII character but letters and digits comes after a backslash.
    assert re.fullmatch(r"(?:\\[\x00-\x7f]|[A-Za-z0-9]|[^\x00-\x7f])+", escaped), escaped
    token = metadata_token("k", user)
    assert query == (
        f"@user_id:{{{escaped}}} @outcome:{{escalated}} @task:{{{escaped}}} "
        f"@metadata_tags:{{{token}}}"
    )


@given(a=user_ids, b=user_ids)
def test_different_users_never_share_a_tag_or_a_key_tag(a: str, b: str) -> None:
    assert (tag_text(a) == tag_text(b)) == (a == b)
    assert (key_tag(a) == key_tag(b)) == (a == b)


@pytest.mark.parametrize(
    "cursor", ["", "not base64!", "WzEsICInKSBvciAxPT0xIl0=", "WyJ4IiwgImEiXQ=="]
)
def test_a_forged_cursor_is_rejected(cursor: str) -> None:
    with pytest.raises(ValidationError):
        decode_cursor(cursor)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(pair=st.lists(user_ids, min_size=2, max_size=2, unique=True))
async def test_property_two_users_never_meet(make_store: StoreFactory, pair: list[str]) -> None:
    store = make_store()
    await store.ensure_schema(SCHEMA)
    vectors = unit_vectors(1, seed=5)
    for user in pair:
        await store.upsert(user, [intervention(user, 1, task=pair[0])], vectors)
    a, b = pair
    hits = await store.search(a, vectors[0], 10, SearchFilter(task=pair[0]))
    assert [hit.record.user_id for hit in hits] == [a]
    assert await store.count(a, SearchFilter()) == 1
    assert [r.user_id for r in (await store.list(a, SearchFilter(), 10)).items] == [a]
    assert await store.forget_user(a) == 1
    assert await store.count(b, SearchFilter()) == 1
    assert await store.forget_user(b) == 1


async def test_hostile_tasks_and_metadata_filter_exactly(make_store: StoreFactory) -> None:
    store = make_store()
    await store.ensure_schema(SCHEMA)
    tasks = [u for u in HOSTILE_USER_IDS if u.strip()] + ["breathing", "Breathing"]
    records = [
        intervention("u", n, task=task, metadata={"tag": task, "n": n, "flag": n % 2 == 0})
        for n, task in enumerate(tasks)
    ]
    await store.upsert("u", records, unit_vectors(len(records), seed=9))
    for n, task in enumerate(tasks):
        found = await store.list("u", SearchFilter(task=task), 100)
        assert [r.id for r in found.items] == [f"i{n}"], task
        found = await store.list("u", SearchFilter(metadata={"tag": task}), 100)
        assert [r.id for r in found.items] == [f"i{n}"], task
    assert await store.count("u", SearchFilter(metadata={"n": 1})) == 1
    assert await store.count("u", SearchFilter(metadata={"n": 1.0})) == 0
    assert await store.count("u", SearchFilter(metadata={"n": True})) == 0
    assert await store.count("u", SearchFilter(metadata={"flag": True})) == (len(tasks) + 1) // 2


async def test_search_returns_k_when_k_match_under_every_plan(make_store: StoreFactory) -> None:
    """Pre-filtering: a rare outcome among many records still yields k hits."""
    for policy in ("auto", "adhoc_bf", "batches", "server"):
        store = make_store(hybrid_policy=policy, adhoc_max_candidates=10)
        await store.ensure_schema(SCHEMA)
        records = [
            intervention("u", n, outcome=Outcome.ESCALATED if n % 20 == 0 else Outcome.UNKNOWN)
            for n in range(400)
        ]
        vectors = unit_vectors(400, seed=3)
        await store.upsert("u", records, vectors)
        wanted = SearchFilter(outcomes=frozenset({Outcome.ESCALATED}))
        for _ in range(2):  # the second search runs on the learnt plan
            await asyncio.gather(*store._counting.values())
            hits = await store.search("u", vectors[1], 5, wanted)
            assert len(hits) == 5, policy
            assert all(getattr(hit.record, "outcome", None) is Outcome.ESCALATED for hit in hits)
            scores = [hit.score for hit in hits]
            assert scores == sorted(scores, reverse=True)


async def test_time_window_bounds_are_inclusive_then_exclusive(make_store: StoreFactory) -> None:
    store = make_store()
    await store.ensure_schema(SCHEMA)
    records = [intervention("u", n, minutes=n) for n in range(5)]
    await store.upsert("u", records, unit_vectors(5, seed=4))
    window = SearchFilter(
        created_after=T0 + timedelta(minutes=1), created_before=T0 + timedelta(minutes=3)
    )
    assert [r.id for r in (await store.list("u", window, 10)).items] == ["i1", "i2"]
    hits = await store.search("u", np.ones(SCHEMA.dimension, np.float32), 10, window)
    assert {hit.record.id for hit in hits} == {"i1", "i2"}


@pytest.mark.parametrize(
    "pair",
    [
        ("Alice", "alice"), ("a", "~61"), ("a-b", "a_b"), ("a.b", "a-b"), ("ab", "a b"),
        ("x", "x "),
        # Unescaped, RediSearch fails on "{_}" and matches nothing for "{__}" or "{_a}".
        ("_", "__"), ("_a", "a_"), ("_", "-"),
    ],
)  # fmt: skip
async def test_users_whose_tags_look_alike_never_meet(
    make_store: StoreFactory, pair: tuple[str, str]
) -> None:
    store = make_store()
    await store.ensure_schema(SCHEMA)
    vectors = unit_vectors(1, seed=6)
    users = [user for user in pair if _valid_user(user)]
    for user in users:
        await store.upsert(user, [intervention(user, 1)], vectors)
    for user in users:
        hits = await store.search(user, vectors[0], 10, SearchFilter())
        assert [hit.record.user_id for hit in hits] == [user]
        assert await store.user_ids() == sorted(users)
