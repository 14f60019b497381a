"""Hostile but valid inputs are data: stored and returned literally, never as syntax.

Each case is written for a victim user next to a neighbour holding the same ids, then
read back by every read path; the neighbour's data must stay invisible and untouched.
"""

from __future__ import annotations

from typing import Any

import pytest

from memcore import Intervention, MemoryService, SearchFilter

QUERY_SYNTAX = "@task:{a|b} | -@user_id:{*} (x|y) ~z %fuzzy% =>[KNN 10 @v $B]"
HOSTILE_USER_IDS = {
    "query syntax": "@user_id:{x}|y",
    "tag braces": "{a}",
    "pipe": "a|b",
    "key separator": "memcore:u:1",
    "sql": "'; DROP TABLE users; --",
    "shell": "$(rm -rf /)",
    "lua": "redis.call('FLUSHALL')",
    "backslashes": "a\\b\\\\",
    "path traversal": "../../etc/passwd",
    "unicode": "ünïcødé-用户-🙂",
    "rtl text": "مستخدم",
    "percent format": "%s%n%x",
    "quotes": "\"'`",
    "max length": "u" * 128,
    "inner spaces": "a b  c",
    "json": '{"user_id": "admin"}',
    "prefix of neighbour": "neigh",
}
HOSTILE_TEXTS = {
    "query syntax": QUERY_SYNTAX,
    "lua": "return redis.call('FLUSHALL')",
    "html": "<script>alert(1)</script>",
    "format string": "{0} {user_id} %(text)s ${HOME}",
    "crlf": "line1\r\nRESP *1\r\n$8\r\nFLUSHALL\r\n",
    "emoji and combining": "🙂 e\u0301 \u200d",
    "json": '{"intervention_text": "other"}',
    "max length": "x" * 8_000,
}
HOSTILE_METADATA: dict[str, Any] = {
    "syntax value": QUERY_SYNTAX,
    "star": "*",
    "empty": "",
    "digit string": "1",
    "min int": -(2**63),
    "max int": 2**63 - 1,
    "negative zero": -0.0,
    "tiny float": 5e-324,
    "huge float": 1.7976931348623157e308,
    "bool": True,
}


async def neighbour(memory: MemoryService, record_id: str) -> Intervention:
    receipt = await memory.record_intervention(
        "neighbour", "the neighbour's own memory", task="breathing", id=record_id
    )
    return receipt.record


async def assert_only_own(memory: MemoryService, user: str, record: Intervention) -> None:
    assert await memory.get(user, record.id) == record
    assert [h.record for h in await memory.search_interventions(user, "memory", k=5)] == [record]
    assert (await memory.list(user)).items == (record,)
    assert (await memory.stats(user)).interventions == 1


@pytest.mark.parametrize("case", list(HOSTILE_USER_IDS))
async def test_hostile_user_id_is_a_literal_tenant(memory: MemoryService, case: str) -> None:
    user = HOSTILE_USER_IDS[case]
    theirs = await neighbour(memory, "r1")
    mine = (await memory.record_intervention(user, "my memory", task="breathing", id="r1")).record
    await assert_only_own(memory, user, mine)
    assert await memory.delete(user, "r1") == 1
    assert await memory.forget_user(user) == 0
    assert await memory.get("neighbour", "r1") == theirs


@pytest.mark.parametrize("case", list(HOSTILE_TEXTS))
async def test_hostile_text_round_trips(memory: MemoryService, case: str) -> None:
    text = HOSTILE_TEXTS[case]
    await neighbour(memory, "r1")
    mine = (
        await memory.record_intervention("victim", text, task=text[:256], context=text, id="r1")
    ).record
    await assert_only_own(memory, "victim", mine)
    hits = await memory.search_interventions("victim", text, k=1, filters={"task": text[:256]})
    assert [h.record for h in hits] == [mine]
    reflection = (await memory.record_reflection("victim", text, id="r2")).record
    assert await memory.get("victim", "r2") == reflection


@pytest.mark.parametrize("case", list(HOSTILE_METADATA))
async def test_hostile_metadata_matches_exactly(memory: MemoryService, case: str) -> None:
    value = HOSTILE_METADATA[case]
    await neighbour(memory, "r1")
    mine = (
        await memory.record_intervention(
            "victim", "memory", task="t", metadata={"k.e-y_1": value}, id="r1"
        )
    ).record
    await memory.record_intervention("victim", "other", task="t", metadata={"k.e-y_1": "x"})
    await assert_only_own_filtered(memory, mine, {"k.e-y_1": value})


async def assert_only_own_filtered(
    memory: MemoryService, record: Intervention, metadata: dict[str, Any]
) -> None:
    found = await memory.list("victim", filters={"metadata": metadata})
    assert found.items == (record,)
    assert type(found.items[0].metadata["k.e-y_1"]) is type(metadata["k.e-y_1"])
    hits = await memory.search_interventions(
        "victim", "memory", k=5, filters={"metadata": metadata}
    )
    assert [h.record for h in hits] == [record]


async def test_query_syntax_in_a_task_filter_matches_nothing_else(memory: MemoryService) -> None:
    await memory.record_intervention("victim", "a", task="a")
    await memory.record_intervention("victim", "b", task="b")
    for task in (QUERY_SYNTAX, "*", "a|b", "{a}", "a*", "-a", "@task:{a}"):
        assert await memory.search_interventions("victim", "a", filters={"task": task}) == []
        assert await memory.store.count("victim", SearchFilter(task=task)) == 0
