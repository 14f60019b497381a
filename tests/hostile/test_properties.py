"""Properties over generated inputs: tenants never meet, and only memcore errors escape.

They run on the store the suite attacks (``--hostile-store``), examples one after the
other on one store; each isolation example leaves it empty for the next.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memcore import MemcoreError, MemoryService
from memcore.validation import validate_user_id

DIMENSION = 32  # the embedder of the suite (conftest.py)


def _is_valid(user_id: str) -> bool:
    try:
        validate_user_id(user_id)
    except MemcoreError:
        return False
    return True


# Valid user ids, biased towards ids that prefix or resemble each other.
BASES = st.sampled_from(["a", "acme", "u1", "user:1", "{x}", "a|b", "ü", "a b"])
USER_IDS = st.one_of(
    BASES,
    st.builds(lambda base, tail: base + tail, BASES, st.sampled_from(["0", "-corp", "*x", ""])),
    st.text(min_size=1, max_size=12),
).filter(_is_valid)
TEXTS = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)
RECORD_IDS = st.sampled_from(["r1", "r2", "r10", "R1", "r1.0", "r1:a"])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    alice=USER_IDS,
    bob=USER_IDS,
    writes=st.lists(st.tuples(st.booleans(), RECORD_IDS, TEXTS), max_size=12),
)
async def test_no_operation_for_one_user_touches_another(
    memory: MemoryService, alice: str, bob: str, writes: list[tuple[bool, str, str]]
) -> None:
    if alice == bob:
        return
    for to_alice, record_id, text in writes:
        user = alice if to_alice else bob
        await memory.record_intervention(user, f"memory {text}", task="t", id=record_id)
    bobs = {r.id: r for r in (await memory.list(bob, limit=100)).items}
    alices = (await memory.list(alice, limit=100)).items
    assert all(r.user_id == alice for r in alices)
    hits = await memory.search_interventions(alice, "memory", k=20)
    assert all(hit.record.user_id == alice for hit in hits)
    assert {r.user_id for r in await memory.get_many(alice, list(bobs))} <= {alice}
    assert (await memory.stats(alice)).interventions == len(alices)
    await memory.delete(alice, list(bobs))
    await memory.forget_user(alice)
    assert {r.id: r for r in (await memory.list(bob, limit=100)).items} == bobs
    await memory.forget_user(bob)  # the next example starts from an empty store


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.binary(max_size=10),
    st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3),
    st.dictionaries(
        st.text(max_size=5), st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=3
    ),
    st.builds(lambda n: np.full(n, math.nan), st.integers(0, 9)),
    st.builds(lambda n: np.ones((n, DIMENSION), np.int8), st.integers(0, 3)),
    st.sampled_from([object(), 1j, Ellipsis, np.float64(1.5), np.str_("u")]),
)
CALLS = st.sampled_from(
    [
        lambda m, a, b: m.record_intervention(a, b, task=b),
        lambda m, a, b: m.record_intervention("u", "t", task="t", metadata=a, outcome=b),
        lambda m, a, b: m.record_intervention("u", "t", task="t", created_at=a, embedding=b),
        lambda m, a, b: m.record_interventions(a, b),
        lambda m, a, b: m.record_reflection(a, b, source_ids=b),
        lambda m, a, b: m.search_interventions(a, b),
        lambda m, a, b: m.search_interventions("u", "q", k=a, filters=b),
        lambda m, a, b: m.search_reflections("u", a, filters={"metadata": b}),
        lambda m, a, b: m.get(a, b),
        lambda m, a, b: m.get_many(a, b),
        lambda m, a, b: m.list(a, filters=b, limit=10),
        lambda m, a, b: m.list("u", limit=a, cursor=b),
        lambda m, a, b: m.delete(a, b),
        lambda m, a, _b: m.forget_user(a),
        lambda m, a, _b: m.stats(a),
    ]
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(call=CALLS, a=JUNK, b=JUNK)
async def test_only_memcore_errors_cross_the_api(
    memory: MemoryService, call: Any, a: Any, b: Any
) -> None:
    with contextlib.suppress(MemcoreError):
        await call(memory, a, b)
