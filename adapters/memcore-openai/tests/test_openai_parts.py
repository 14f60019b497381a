"""Request planning, Retry-After parsing and redaction, without a server."""

from __future__ import annotations

import email.utils
import time

import pytest

from memcore_openai._batching import estimate_tokens, plan
from memcore_openai._errors import Redactor, retry_after


def test_estimates_lean_high_and_count_bytes() -> None:
    assert estimate_tokens("") == 1
    assert estimate_tokens("word " * 300) >= 300
    assert estimate_tokens("中文" * 100) == 201  # 600 UTF-8 bytes


def test_plan_covers_every_text_once_in_order_within_limits() -> None:
    texts = ["a" * n for n in (10, 400, 20, 20, 900, 5)]
    spans = list(plan(texts, max_inputs=2, max_tokens=200))
    assert [index for span in spans for index in span] == list(range(len(texts)))
    for span in spans:
        assert len(span) <= 2
        assert len(span) == 1 or sum(estimate_tokens(texts[i]) for i in span) <= 200
    assert list(plan([], max_inputs=2, max_tokens=10)) == []


def test_a_text_over_the_budget_goes_alone() -> None:
    assert list(plan(["x" * 999, "y"], max_inputs=10, max_tokens=5)) == [range(1), range(1, 2)]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "150", "retry-after": "9"}, 0.15),
        ({"retry-after-ms": "soon", "retry-after": "3"}, 3.0),
        ({"retry-after": "9999"}, 120.0),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "whenever"}, None),
        ({}, None),
    ],
)
def test_retry_after_hints(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(headers) == expected


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after({"retry-after": when})
    assert seconds is not None
    assert 25 <= seconds <= 31


def test_redaction_masks_every_secret_longest_first() -> None:
    redact = Redactor(["sk-abc", "sk-abcdef", ""])
    assert redact("key sk-abcdef and sk-abc") == "key *** and ***"
    error = ValueError("bad sk-abcdef")
    redact.scrub(error)
    assert error.args == ("bad ***",)
