"""Every validation rule: a typed error naming the field, and a store left untouched."""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from memcore import Intervention, MemoryService, Outcome, ValidationError, validate_intervention
from memcore.domain import RecordKind, SearchFilter, utcnow
from memcore.intake import intervention_from
from memcore.validation import (
    Limits,
    squared_norms,
    unit_vector,
    unit_vectors,
    validate_filters,
    validate_user_id,
)

Call = Callable[[MemoryService], Coroutine[Any, Any, Any]]


def record(**overrides: Any) -> Call:
    fields: dict[str, Any] = {"task": "breathing", "outcome": "task_completed"}
    fields.update(overrides)
    text = fields.pop("text", "Try box breathing.")
    user = fields.pop("user", "u")
    return lambda memory: memory.record_intervention(user, text, **fields)


def search(**overrides: Any) -> Call:
    args: dict[str, Any] = {"user_id": "u", "query": "breathing", "k": 3}
    args.update(overrides)
    return lambda memory: memory.search_interventions(**args)


NAIVE = datetime(2025, 1, 1)  # noqa: DTZ001 - the bad input under test
BAD_INPUTS: dict[str, tuple[Call, str]] = {
    "empty user id": (record(user=""), "user_id"),
    "blank user id": (record(user="   "), "user_id"),
    "user id with newline": (record(user="a\nb"), "user_id"),
    "user id with NUL": (record(user="a\x00b"), "user_id"),
    "user id with zero-width space": (record(user="a\u200bb"), "user_id"),
    "user id with bidi override": (record(user="a\u202eb"), "user_id"),
    "wildcard user id *": (record(user="*"), "user_id"),
    "wildcard user id ?": (record(user="user?"), "user_id"),
    "over-long user id": (record(user="u" * 129), "user_id"),
    "user id with leading space": (record(user=" u"), "user_id"),
    "user id not a string": (record(user=42), "user_id"),
    "empty text": (record(text=""), "intervention_text"),
    "blank text": (record(text=" \n\t"), "intervention_text"),
    "text too long": (record(text="x" * 8_001), "intervention_text"),
    "text with NUL": (record(text="a\x00"), "intervention_text"),
    "text not a string": (record(text=b"bytes"), "intervention_text"),
    "text with a lone surrogate": (record(text="a\ud800b"), "intervention_text"),
    "task with a lone surrogate": (record(task="t\udfff"), "task"),
    "context too long": (record(context="x" * 8_001), "context"),
    "empty task": (record(task=""), "task"),
    "task too long": (record(task="t" * 257), "task"),
    "unknown outcome": (record(outcome="great_success"), "outcome"),
    "outcome not a string": (record(outcome=1), "outcome"),
    "naive created_at": (record(created_at=NAIVE), "created_at"),
    "created_at before 1970": (
        record(created_at=datetime(1969, 12, 31, tzinfo=timezone.utc)),
        "created_at",
    ),
    "created_at as a string": (record(created_at="2025-01-01"), "created_at"),
    "metadata not a mapping": (record(metadata=[("a", 1)]), "metadata"),
    "metadata key with space": (record(metadata={"a b": 1}), "metadata"),
    "metadata key too long": (record(metadata={"k" * 65: 1}), "metadata"),
    "metadata None value": (record(metadata={"a": None}), "metadata.a"),
    "metadata nested value": (record(metadata={"a": {"b": 1}}), "metadata.a"),
    "metadata list value": (record(metadata={"a": [1]}), "metadata.a"),
    "metadata NaN": (record(metadata={"a": math.nan}), "metadata.a"),
    "metadata infinity": (record(metadata={"a": math.inf}), "metadata.a"),
    "metadata huge int": (record(metadata={"a": 2**64}), "metadata.a"),
    "metadata value too long": (record(metadata={"a": "x" * 1_025}), "metadata.a"),
    "too many metadata keys": (record(metadata={f"k{n}": n for n in range(33)}), "metadata"),
    "bad record id": (record(id="has space"), "id"),
    "record id starting with dash": (record(id="-x"), "id"),
    "id and idempotency key": (record(id="a", idempotency_key="b"), "idempotency_key"),
    "embedding of wrong dimension": (record(embedding=np.ones(31, np.float32)), "embedding"),
    "embedding of ints": (record(embedding=np.ones(32, np.int64)), "embedding"),
    "embedding with NaN": (record(embedding=np.full(32, np.nan, np.float32)), "embedding"),
    "embedding with Inf": (record(embedding=np.full(32, np.inf, np.float32)), "embedding"),
    "zero embedding": (record(embedding=np.zeros(32, np.float32)), "embedding"),
    "embedding not an array": (record(embedding=[0.1] * 32), "embedding"),
    "k zero": (search(k=0), "k"),
    "k negative": (search(k=-1), "k"),
    "k too large": (search(k=101), "k"),
    "k bool": (search(k=True), "k"),
    "k float": (search(k=2.5), "k"),
    "empty query": (search(query=""), "query"),
    "unknown filter field": (search(filters={"colour": "red"}), "filters.colour"),
    "unknown filter outcome": (search(filters={"outcome": "meh"}), "filters.outcome"),
    "outcome and outcomes": (
        search(filters={"outcome": "task_completed", "outcomes": ["no_response"]}),
        "filters.outcome",
    ),
    "filter on reflections in an intervention search": (
        search(filters={"kind": "reflection"}),
        "filters.kind",
    ),
    "naive filter time": (search(filters={"created_after": NAIVE}), "filters.created_after"),
    "filter metadata nested": (search(filters={"metadata": {"a": {}}}), "filters.metadata.a"),
    "filters not a mapping": (search(filters=["outcome"]), "filters"),
    "query embedding wrong shape": (search(query=np.ones((2, 32), np.float32)), "embedding"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
async def test_bad_input_raises_a_typed_error_and_stores_nothing(
    memory: MemoryService, case: str
) -> None:
    call, field = BAD_INPUTS[case]
    kept = (await memory.record_intervention("u", "kept record", task="t", id="kept")).record
    with pytest.raises(ValidationError) as raised:
        await call(memory)
    assert raised.value.field == field
    assert field in str(raised.value)
    assert await memory.store.count("u", SearchFilter()) == 1
    assert await memory.get("u", "kept") == kept


async def test_one_bad_item_in_a_batch_stores_nothing(memory: MemoryService) -> None:
    items: list[dict[str, Any]] = [
        {"intervention_text": "fine", "task": "t"},
        {"intervention_text": "also fine", "task": "t", "outcome": "nope"},
    ]
    with pytest.raises(ValidationError, match="outcome"):
        await memory.record_interventions("u", items)
    with pytest.raises(ValidationError, match=r"items\[0\]\.colour"):
        await memory.record_interventions(
            "u", [{"intervention_text": "x", "task": "t", "colour": 1}]
        )
    with pytest.raises(ValidationError, match=r"items\[0\]\.task"):
        await memory.record_interventions("u", [{"intervention_text": "x"}])
    with pytest.raises(ValidationError, match="batch"):
        await memory.record_interventions("u", [])
    assert await memory.store.count("u", SearchFilter()) == 0


async def test_limits_are_configurable(memory: MemoryService) -> None:
    strict = MemoryService(memory.store, memory.embedder, limits=Limits(max_text_chars=5, max_k=2))
    with pytest.raises(ValidationError, match="intervention_text"):
        await strict.record_intervention("u", "too long", task="t")
    with pytest.raises(ValidationError, match="k"):
        await strict.search_interventions("u", "q", k=3)


async def test_reflection_rules(memory: MemoryService) -> None:
    with pytest.raises(ValidationError, match="source_ids"):
        await memory.record_reflection("u", "insight", source_ids=["bad id"])
    with pytest.raises(ValidationError, match="source_ids"):
        await memory.record_reflection("u", "insight", source_ids="i1")
    with pytest.raises(ValidationError, match="text"):
        await memory.record_reflection("u", "")
    assert await memory.store.count("u", SearchFilter()) == 0


async def test_list_and_delete_rules(memory: MemoryService) -> None:
    for bad_limit in (0, 1_001, True, "5"):
        with pytest.raises(ValidationError, match="limit"):
            await memory.list("u", limit=bad_limit)
    with pytest.raises(ValidationError, match="cursor"):
        await memory.list("u", cursor="not-a-cursor")
    with pytest.raises(ValidationError, match=r"ids\[0\]"):
        await memory.delete("u", ["*"])


def test_public_validators_check_without_storing() -> None:
    good = Intervention(id="a1", user_id="u", intervention_text="hi", task="t")
    assert validate_intervention(good) is good
    bad = Intervention(id="a1", user_id="u", intervention_text="hi", task="t", outcome="x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="outcome"):
        validate_intervention(bad)
    late = Intervention(
        id="a1",
        user_id="u",
        intervention_text="hi",
        task="t",
        created_at=utcnow() + timedelta(days=365 * 300),
    )
    with pytest.raises(ValidationError, match="created_at"):
        validate_intervention(late)
    assert validate_user_id("acme-corp|ünï @x") == "acme-corp|ünï @x"


def test_float64_embeddings_are_converted_without_touching_the_input() -> None:
    given = np.linspace(0.1, 1.0, 8)
    before = given.copy()
    converted = unit_vectors(given, 1, 8)
    assert converted.dtype == np.float32
    assert converted.shape == (1, 8)
    assert converted.flags.c_contiguous
    assert np.linalg.norm(converted[0]) == pytest.approx(1.0, abs=1e-6)
    assert np.array_equal(given, before)


@pytest.mark.parametrize(
    "given",
    [
        np.arange(1, 9, dtype=np.float32),  # a (dimension,) row
        np.arange(1, 9, dtype=np.float32).reshape(1, 8),
        np.arange(1, 17, dtype=np.float32)[::2],  # not contiguous
        np.arange(1, 9, dtype=">f4"),  # float32, not native
    ],
)
def test_a_single_float32_row_comes_back_as_a_new_unit_row(given: np.ndarray) -> None:
    before = given.copy()
    converted = unit_vectors(given, 1, 8)
    assert converted.dtype == np.float32
    assert converted.shape == (1, 8)
    assert converted.flags.c_contiguous
    assert not np.shares_memory(converted, given)
    assert np.allclose(converted[0] * np.linalg.norm(before), before.ravel())
    assert np.array_equal(given, before)


@pytest.mark.parametrize(
    ("given", "as_is"),
    [
        (np.full(4, 0.5, dtype=np.float32), True),  # unit length already: read, not copied
        (np.full(4, 2.0, dtype=np.float32), False),
        (np.full(8, 0.5, dtype=np.float32)[::2], False),  # unit length, not contiguous
        (np.full(4, 0.5, dtype=">f4"), False),  # unit length, not native
        (np.full((1, 4), 0.5, dtype=np.float32), False),  # a (1, dimension) row
    ],
)
def test_a_query_vector_is_a_unit_row_the_given_one_when_it_is_one(
    given: np.ndarray, as_is: bool
) -> None:
    query = unit_vector(given, 4)
    assert query.dtype == np.float32
    assert query.shape == (4,)
    assert query.flags.c_contiguous
    assert np.allclose(query, 0.5)
    assert (query is given) is as_is


@pytest.mark.parametrize(
    ("given", "error"),
    [
        (np.zeros(4, dtype=np.float32), "all zeros"),
        (np.array([np.nan, 0.5, 0.5, 0.5], dtype=np.float32), "finite"),
        (np.array([np.inf, 0.0, 0.0, 0.0], dtype=np.float32), "finite"),
        (np.full(3, 0.5, dtype=np.float32), "shape"),
        (np.full(4, 1, dtype=np.int32), "dtype"),
        ([0.5, 0.5, 0.5, 0.5], "numpy array"),
    ],
)
def test_a_query_vector_follows_every_rule_of_embeddings(given: object, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        unit_vector(given, 4)


def test_rows_are_scaled_to_unit_length_once() -> None:
    given = np.array([[3.0, 4.0], [0.0, 2.0]], dtype=np.float32)
    assert np.allclose(unit_vectors(given, 2, 2), [[0.6, 0.8], [0.0, 1.0]])
    assert given.tolist() == [[3.0, 4.0], [0.0, 2.0]]


def test_validation_error_is_a_value_error_too() -> None:
    with pytest.raises(ValueError, match="user_id"):
        validate_user_id("")
    assert Outcome("task_completed") is Outcome.TASK_COMPLETED


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize("magnitude", [1e30, 1e-30])
def test_finite_vectors_whose_squares_overflow_or_underflow_are_accepted(
    rows: int, magnitude: float
) -> None:
    vectors = np.full((rows, 8), magnitude, dtype=np.float32)
    assert squared_norms(vectors) is None  # the one-pass check cannot tell...
    unit = unit_vectors(vectors, rows, 8)  # ...the exact checks accept, and scale in float64
    assert np.allclose(np.linalg.norm(unit, axis=1), 1.0)


@pytest.mark.parametrize("rows", [1, 3])
def test_squared_norms_are_the_squared_lengths(rows: int) -> None:
    vectors = np.full((rows, 4), 0.5, dtype=np.float32)
    assert squared_norms(vectors) == pytest.approx([1.0] * rows)
    vectors[-1, :] = np.nan
    assert squared_norms(vectors) is None


NFC, NFD = "caf\u00e9", "cafe\u0301"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u200b", "\x85"])
def test_line_separators_and_invisible_characters_are_not_ids(separator: str) -> None:
    with pytest.raises(ValidationError, match="user_id"):
        validate_user_id(f"a{separator}b")


async def test_composed_and_decomposed_ids_and_tags_are_one_value(memory: MemoryService) -> None:
    assert validate_user_id(NFD) == NFC
    receipt = await memory.record_intervention(NFD, "hi", task=NFD, metadata={"lang": NFD})
    assert (receipt.record.user_id, receipt.record.task, receipt.record.metadata["lang"]) == (
        NFC,
        NFC,
        NFC,
    )
    for user, value in ((NFC, NFC), (NFD, NFD), (NFC, NFD)):
        filters = {"task": value, "metadata": {"lang": value}}
        assert len(await memory.search_interventions(user, "hi", filters=filters)) == 1
    assert (await memory.stats(NFD)).interventions == 1
    scoped = await memory.record_intervention(NFC, "hi", task="t", agent_id=NFD, session_id=NFD)
    assert (scoped.record.agent_id, scoped.record.session_id) == (NFC, NFC)
    found = await memory.search_interventions(NFD, "hi", filters={"agent_id": NFC})
    assert [hit.record.id for hit in found] == [scoped.id]


def test_a_repeated_filter_is_the_same_checked_filter_and_types_stay_apart() -> None:
    given = {"outcome": "task_completed", "task": "breathe"}
    first = validate_filters(dict(given), kind=RecordKind.INTERVENTION)
    again = validate_filters(dict(given), kind=RecordKind.INTERVENTION)
    assert again is first  # answered from the cache
    assert first == SearchFilter.parse(given).with_kind(RecordKind.INTERVENTION)
    assert validate_filters(dict(given)) == SearchFilter.parse(given)  # no kind: not narrowed
    with pytest.raises(ValidationError, match=r"filters\.kind"):
        validate_filters({"kind": "reflection"}, kind=RecordKind.INTERVENTION)
    # 1 == True and hash alike, but a bad value is refused whatever came before it.
    assert validate_filters({"task": "1"}).tags["task"] == {"1"}
    with pytest.raises(ValidationError, match=r"filters\.task"):
        validate_filters({"task": 1})
    with pytest.raises(ValidationError, match=r"filters\.task"):
        validate_filters({"task": True})


def test_no_filter_is_the_empty_filter_narrowed_to_the_kind_searched() -> None:
    assert validate_filters(None) == SearchFilter()
    assert validate_filters(None).is_empty
    for kind in RecordKind:
        narrowed = validate_filters(None, kind=kind)
        assert narrowed == SearchFilter().with_kind(kind) == validate_filters({}, kind=kind)
        assert narrowed.tags == {"kind": frozenset({kind})}
        assert validate_filters(None, kind=kind) is narrowed  # built once, shared: immutable


def test_each_limits_object_checks_by_its_own_limits() -> None:
    """The checks worked out once per limits object never mix two objects up."""
    item = {"intervention_text": "x" * 20, "task": "breathing"}
    for _ in range(3):  # fresh objects, whose ids the first ones' may reuse
        tight, loose = Limits(max_text_chars=10), Limits(max_text_chars=100)
        with pytest.raises(ValidationError, match="intervention_text"):
            intervention_from("u", item, tight)
        assert intervention_from("u", item, loose).intervention_text == "x" * 20
        with pytest.raises(ValidationError, match="intervention_text"):
            validate_intervention(intervention_from("u", item, loose), tight)
