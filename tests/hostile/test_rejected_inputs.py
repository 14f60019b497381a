"""Hostile invalid inputs across the whole public API: a typed error, an unchanged store.

Complements tests/unit/test_validation.py (record and search arguments) with the other
entry points: reads, deletes, listing, batches, reflections, embeddings and settings.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pytest

from memcore import (
    AdapterNotFoundError,
    ConfigurationError,
    MemcoreError,
    MemoryService,
    NotFoundError,
    ValidationError,
    connect,
)

Call = Callable[[MemoryService], Coroutine[Any, Any, Any]]
LATE = datetime(2200, 1, 1, tzinfo=timezone.utc)

REJECTED: dict[str, tuple[Call, type[MemcoreError], str]] = {
    "get: id with space": (lambda m: m.get("u", "a b"), ValidationError, "ids[0]"),
    "get: id as int": (lambda m: m.get("u", 7), ValidationError, "ids[0]"),
    "get: wildcard id": (lambda m: m.get("u", "*"), ValidationError, "ids[0]"),
    "get: key-like id": (lambda m: m.get("u", "memcore:u:*"), ValidationError, "ids[0]"),
    "get: user wildcard": (lambda m: m.get("*", "kept"), ValidationError, "user_id"),
    "get_many: a string": (lambda m: m.get_many("u", "kept"), ValidationError, "ids"),
    "get_many: a dict": (lambda m: m.get_many("u", {"kept": 1}), ValidationError, "ids"),
    "get_many: None inside": (lambda m: m.get_many("u", ["kept", None]), ValidationError, "ids[1]"),
    "delete: wildcard user": (lambda m: m.delete("*", ["kept"]), ValidationError, "user_id"),
    "delete: empty user": (lambda m: m.delete("", ["kept"]), ValidationError, "user_id"),
    "delete: bytes ids": (lambda m: m.delete("u", b"kept"), ValidationError, "ids"),
    "delete: glob id": (lambda m: m.delete("u", ["k*"]), ValidationError, "ids[0]"),
    "forget_user: empty": (lambda m: m.forget_user(""), ValidationError, "user_id"),
    "forget_user: star": (lambda m: m.forget_user("*"), ValidationError, "user_id"),
    "forget_user: None": (lambda m: m.forget_user(None), ValidationError, "user_id"),
    "forget_user: list": (lambda m: m.forget_user(["u"]), ValidationError, "user_id"),
    "forget_user: trailing space": (lambda m: m.forget_user("u "), ValidationError, "user_id"),
    "stats: control char": (lambda m: m.stats("u\x1b[31m"), ValidationError, "user_id"),
    "list: limit 0": (lambda m: m.list("u", limit=0), ValidationError, "limit"),
    "list: limit huge": (lambda m: m.list("u", limit=10**9), ValidationError, "limit"),
    "list: limit bool": (lambda m: m.list("u", limit=True), ValidationError, "limit"),
    "list: limit str": (lambda m: m.list("u", limit="10"), ValidationError, "limit"),
    "list: cursor int": (lambda m: m.list("u", cursor=5), ValidationError, "cursor"),
    "list: forged cursor": (
        lambda m: m.list("u", cursor="!!not-a-cursor"),
        ValidationError,
        "cursor",
    ),
    "list: bad filter kind": (
        lambda m: m.list("u", filters={"kind": "x"}),
        ValidationError,
        "filters.kind",
    ),
    "batch: None": (lambda m: m.record_interventions("u", None), ValidationError, "items"),
    "batch: a string": (lambda m: m.record_interventions("u", "text"), ValidationError, "items"),
    "batch: a mapping": (
        lambda m: m.record_interventions("u", {"intervention_text": "x", "task": "t"}),
        ValidationError,
        "items",
    ),
    "batch: empty": (lambda m: m.record_interventions("u", []), ValidationError, "batch"),
    "batch: too big": (
        lambda m: m.record_interventions("u", [{"intervention_text": "x", "task": "t"}] * 1_001),
        ValidationError,
        "batch",
    ),
    "batch: item not a mapping": (
        lambda m: m.record_interventions("u", ["text"]),
        ValidationError,
        "items[0]",
    ),
    "batch: unknown field": (
        lambda m: m.record_interventions(
            "u", [{"intervention_text": "x", "task": "t", "user_id": "v"}]
        ),
        ValidationError,
        "items[0].user_id",
    ),
    "batch: missing task": (
        lambda m: m.record_interventions("u", [{"intervention_text": "x"}]),
        ValidationError,
        "items[0].task",
    ),
    "batch: wrong embeddings count": (
        lambda m: m.record_interventions(
            "u", [{"intervention_text": "x", "task": "t"}], embeddings=np.ones((2, 32), np.float32)
        ),
        ValidationError,
        "embedding",
    ),
    "text: lone surrogate": (
        lambda m: m.record_intervention("u", "broken \ud800 text", task="t"),
        ValidationError,
        "intervention_text",
    ),
    "reflection: blank": (lambda m: m.record_reflection("u", "  "), ValidationError, "text"),
    "reflection: source id glob": (
        lambda m: m.record_reflection("u", "x", source_ids=["*"]),
        ValidationError,
        "source_ids[0]",
    ),
    "reflection: source ids a string": (
        lambda m: m.record_reflection("u", "x", source_ids="kept"),
        ValidationError,
        "source_ids",
    ),
    "reflection: too many sources": (
        lambda m: m.record_reflection("u", "x", source_ids=[f"s{n}" for n in range(257)]),
        ValidationError,
        "source_ids",
    ),
    "created_at: year 2200": (
        lambda m: m.record_reflection("u", "x", created_at=LATE),
        ValidationError,
        "created_at",
    ),
    "created_at: a timestamp": (
        lambda m: m.record_intervention("u", "x", task="t", created_at=1.7e9),
        ValidationError,
        "created_at",
    ),
    "embedding: 3-d": (
        lambda m: m.record_intervention(
            "u", "x", task="t", embedding=np.ones((1, 1, 32), np.float32)
        ),
        ValidationError,
        "embedding",
    ),
    "embedding: complex": (
        lambda m: m.record_intervention("u", "x", task="t", embedding=np.ones(32, np.complex64)),
        ValidationError,
        "embedding",
    ),
    "embedding: object dtype": (
        lambda m: m.record_intervention("u", "x", task="t", embedding=np.array(["a"] * 32)),
        ValidationError,
        "embedding",
    ),
    "embedding: float64 overflowing float32": (
        lambda m: m.record_intervention("u", "x", task="t", embedding=np.full(32, 1e300)),
        ValidationError,
        "embedding",
    ),
    "query embedding: empty": (
        lambda m: m.search_interventions("u", np.ones(0, np.float32)),
        ValidationError,
        "embedding",
    ),
    "query: bytes": (lambda m: m.search_reflections("u", b"q"), ValidationError, "embedding"),
    "query: None": (lambda m: m.search_reflections("u", None), ValidationError, "embedding"),
    "filters: metadata with bad key": (
        lambda m: m.search_reflections("u", "q", filters={"metadata": {"a b": 1}}),
        ValidationError,
        "filters.metadata",
    ),
    "filters: outcomes a string": (
        lambda m: m.search_interventions("u", "q", filters={"outcomes": "task_completed"}),
        ValidationError,
        "filters.outcomes",
    ),
    "filters: task a list": (
        lambda m: m.search_interventions("u", "q", filters={"task": ["a"]}),
        ValidationError,
        "filters.task",
    ),
    "filters: created_before a string": (
        lambda m: m.search_interventions("u", "q", filters={"created_before": "2025"}),
        ValidationError,
        "filters.created_before",
    ),
    "get: missing record": (lambda m: m.get("u", "missing"), NotFoundError, ""),
    "get: another user's record": (lambda m: m.get("other", "kept"), NotFoundError, ""),
}


@pytest.mark.parametrize("case", list(REJECTED))
async def test_rejected_with_a_typed_error_and_nothing_changes(
    memory: MemoryService, case: str
) -> None:
    call, error, field = REJECTED[case]
    kept = (await memory.record_intervention("u", "kept record", task="t", id="kept")).record
    with pytest.raises(error) as raised:
        await call(memory)
    if field:
        assert raised.value.field == field  # type: ignore[attr-defined]
    assert await memory.get("u", "kept") == kept
    assert (await memory.stats("u")).interventions == 1
    assert await memory.store.user_ids() == ["u"]


SETTINGS: dict[str, tuple[dict[str, str], type[MemcoreError], str]] = {
    "negative max_k": (
        {"MEMCORE_LIMITS__MAX_K": "-1"},
        ConfigurationError,
        "MEMCORE_LIMITS__MAX_K",
    ),
    "max_k not a number": (
        {"MEMCORE_LIMITS__MAX_K": "ten; rm -rf /"},
        ConfigurationError,
        "MEMCORE_LIMITS__MAX_K",
    ),
    "unknown nested limit": (
        {"MEMCORE_LIMITS__MAX_EVERYTHING": "1"},
        ConfigurationError,
        "MEMCORE_LIMITS__MAX_EVERYTHING",
    ),
    "retry attempts zero": (
        {"MEMCORE_RETRY__MAX_ATTEMPTS": "0"},
        ConfigurationError,
        "MEMCORE_RETRY__MAX_ATTEMPTS",
    ),
    "unknown store": ({"MEMCORE_STORE": "../../evil"}, AdapterNotFoundError, "MEMCORE_STORE"),
    "store entry point syntax": (
        {"MEMCORE_STORE": "os:system"},
        AdapterNotFoundError,
        "MEMCORE_STORE",
    ),
}


@pytest.mark.parametrize("case", list(SETTINGS))
async def test_hostile_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    env, error, setting = SETTINGS[case]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(error) as raised:
        await connect()
    assert raised.value.setting == setting  # type: ignore[attr-defined]
