"""The pipeline runs a row of inline policies in one frame exactly as if each wrapped the
next: the same hooks in the same order, the same result or error, whatever happens where.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from memcore.domain import Status
from memcore.pipeline import DETOUR, Call, Handler, InlinePolicy, Pipeline, Policy, Result

CALL = Call("store", "get", "u", {"ids": ["a"]})
OK = Result("value", Status.COMPLETE)


class BoomError(Exception):
    pass


class Recording(InlinePolicy):
    """An inline policy noting its hooks in ``log``; ``does`` says what each hook does."""

    ports = frozenset({"store"})

    def __init__(self, name: str, log: list[str], does: dict[str, str]) -> None:
        self.name = name
        self.log = log
        self.does = does

    def enter(self, call: Call) -> Any:
        self.log.append(f"{self.name}.enter")
        if self.does.get("enter") == "raise":
            raise BoomError(f"{self.name} refused")
        if self.does.get("enter") == "detour":
            return DETOUR
        return self.name

    def exit(self, call: Call, token: Any, result: Result[Any]) -> Result[Any]:
        assert token == self.name
        self.log.append(f"{self.name}.exit({result.value})")
        if self.does.get("exit") == "raise":
            raise BoomError(f"{self.name} rejected")
        return Result(f"{result.value}+{self.name}", result.status)

    async def fail(
        self, call: Call, token: Any, error: BaseException, proceed: Handler
    ) -> Result[Any]:
        assert token == self.name
        self.log.append(f"{self.name}.fail({error})")
        if self.does.get("fail") == "recover":
            return Result(f"recovered by {self.name}", Status.DEGRADED)
        if self.does.get("fail") == "retry":
            return await proceed(call)
        raise error

    async def detour(self, call: Call, proceed: Handler) -> Result[Any]:
        self.log.append(f"{self.name}.detour")
        result = await proceed(call)
        return Result(f"{result.value}+{self.name} detour", result.status)


class EnterOnly(InlinePolicy):
    """An inline policy with InlinePolicy's own exit and fail (the pipeline skips them)."""

    name = "enter-only"
    ports = frozenset({"store"})

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def enter(self, call: Call) -> Any:
        self.log.append("enter-only.enter")


class Plain(Policy):
    """An ordinary ``policy(call, proceed)`` between inline ones."""

    name = "plain"
    ports = frozenset({"store"})

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def __call__(self, call: Call, proceed: Handler) -> Result[Any]:
        self.log.append("plain.before")
        try:
            result = await proceed(call)
        finally:
            self.log.append("plain.after")
        return Result(f"{result.value}+plain", result.status)


def _terminal(log: list[str], fails: list[BaseException]) -> Handler:
    async def run(call: Call) -> Result[Any]:
        log.append(f"store.{call.operation}")
        if fails:
            raise fails.pop(0)
        return OK

    return run


def _nested(policies: list[Policy], terminal: Handler) -> Handler:
    """The reference: each policy's own ``__call__`` wrapping the next, by hand."""
    handler = terminal
    for policy in reversed(policies):

        def wrap(call: Call, policy: Policy = policy, below: Handler = handler) -> Any:
            return policy(call, below)

        handler = wrap
    return handler


async def _outcome(handler: Handler) -> object:
    try:
        return await handler(CALL)
    except BaseException as exc:  # noqa: BLE001 - the outcome compared
        return (type(exc).__name__, str(exc))


Setup = Callable[[list[str]], list[Policy]]

SCENARIOS: dict[str, tuple[Setup, list[BaseException]]] = {
    "success": (lambda log: [Recording(n, log, {}) for n in "abc"], []),
    "the store fails": (lambda log: [Recording(n, log, {}) for n in "abc"], [BoomError("down")]),
    "a policy refuses": (
        lambda log: [Recording("a", log, {}), Recording("b", log, {"enter": "raise"})],
        [],
    ),
    "an inner policy recovers": (
        lambda log: [Recording("a", log, {}), Recording("b", log, {"fail": "recover"})],
        [BoomError("down")],
    ),
    "a policy retries": (
        lambda log: [Recording("a", log, {}), Recording("b", log, {"fail": "retry"})],
        [BoomError("down")],
    ),
    "an exit rejects": (
        lambda log: [
            Recording("a", log, {"fail": "recover"}),
            Recording("b", log, {"exit": "raise"}),
            Recording("c", log, {}),
        ],
        [],
    ),
    "a detour": (
        lambda log: [Recording(n, log, {"enter": "detour"} if n == "b" else {}) for n in "abc"],
        [],
    ),
    "a plain policy between": (
        lambda log: [Recording("a", log, {}), Plain(log), Recording("c", log, {})],
        [BoomError("down")],
    ),
    "hooks left as they are": (
        lambda log: [Recording("a", log, {}), EnterOnly(log), Recording("c", log, {})],
        [],
    ),
    "hooks left as they are, failing": (
        lambda log: [Recording("a", log, {}), EnterOnly(log), Recording("c", log, {})],
        [BoomError("down")],
    ),
    "cancelled": (
        lambda log: [Recording(n, log, {"fail": "recover"} if n == "a" else {}) for n in "ab"],
        [asyncio.CancelledError("cancelled")],
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_a_row_of_inline_policies_runs_as_if_each_wrapped_the_next(scenario: str) -> None:
    setup, failures = SCENARIOS[scenario]
    fused_log: list[str] = []
    fused = Pipeline(setup(fused_log)).chains(
        "store", {"get": _terminal(fused_log, list(failures))}
    )["get"]
    nested_log: list[str] = []
    nested = _nested(setup(nested_log), _terminal(nested_log, list(failures)))

    assert await _outcome(fused) == await _outcome(nested)
    assert fused_log == nested_log


async def test_policies_that_do_not_wrap_an_operation_are_skipped_in_the_row() -> None:
    log: list[str] = []
    only_list = Recording("b", log, {})
    only_list.operations = frozenset({"list"})
    pipeline = Pipeline([Recording("a", log, {}), only_list, Recording("c", log, {})])
    chains = pipeline.chains("store", {"get": _terminal(log, []), "list": _terminal(log, [])})

    assert (await chains["get"](CALL)).value == "value+c+a"
    assert log == ["a.enter", "c.enter", "store.get", "c.exit(value)", "a.exit(value+c)"]
