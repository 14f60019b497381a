"""Canary: memory content and secrets never reach logs, error messages or reprs.

A unique canary string is planted in every piece of content (texts, context, metadata,
queries, filters) and in secret settings; everything the library emits while it is
used, and fails, is searched for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr

from memcore import MemcoreError, MemoryService, load_settings
from memcore.adapters.hashing import HashingEmbedder
from memcore.observability import JsonFormatter
from memcore.pipeline import Policy
from memcore.ports import MemoryStore
from memcore.security.audit import AuditEvent, AuditPolicy
from memcore.security.encryption import EncryptionPolicy
from memcore.security.keyring import Keyring, MasterKeys, generate_key

CANARY = "CANARY-7f3e9b"
SECRET = generate_key()


class Sink:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def write(self, event: AuditEvent) -> None:
        self.events.append(event)

    async def aclose(self) -> None:
        return None


async def exercise(memory: MemoryService) -> list[object]:
    """Use every API with planted content; return what it returned and raised."""
    out: list[object] = []
    content = {"context": f"ctx {CANARY}", "metadata": {"note": CANARY}}
    record = (await memory.record_intervention("u", f"text {CANARY}", task="t", **content)).record
    reflection = (
        await memory.record_reflection("u", f"insight {CANARY}", metadata={"n": CANARY})
    ).record
    out += [record, reflection, await memory.get("u", record.id)]
    out += await memory.search_interventions("u", f"query {CANARY}", filters={"task": "t"})
    out += await memory.search_reflections("u", f"q {CANARY}", filters={"metadata": {"n": CANARY}})
    out += [await memory.list("u"), await memory.stats("u"), await memory.health()]
    failing: list[Any] = [
        lambda: memory.record_intervention("u", CANARY * 2_000, task="t"),
        lambda: memory.record_intervention("u", "x", task="t", metadata={"m": CANARY * 100}),
        lambda: memory.record_intervention("u", f"{CANARY}\x00", task="t"),
        # Enum fields echo a bad value to help the caller; they are labels, not content.
        lambda: memory.search_interventions("u", CANARY, filters={"outcome": "great"}),
        lambda: memory.record_intervention("u", CANARY, task="t", outcome="great"),
        lambda: memory.search_interventions("u", np.full(32, np.nan)),
        lambda: memory.get("u", "missing"),
    ]
    for call in failing:
        with pytest.raises(MemcoreError) as raised:
            await call()
        out.append(raised.value)
    await memory.forget_user("u")
    return out


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.from_secrets({"k1": SecretStr(SECRET)}, "k1")


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logs() -> Iterator[Collect]:
    """Every record of the memcore loggers at DEBUG, whatever logging setup ran before."""
    handler = Collect()
    loggers = [logging.getLogger(name) for name in ("memcore", "memcore_redis")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.parametrize("layers", ["plain", "encrypted+audited"])
async def test_no_canary_or_secret_anywhere(
    fresh_store: MemoryStore, logs: Collect, keyring: Keyring, layers: str
) -> None:
    sink = Sink()
    store = fresh_store
    policies: list[Policy] = []
    if layers != "plain":
        encryption = EncryptionPolicy(MasterKeys(keyring), filterable_metadata=["n"])
        policies = [AuditPolicy(sink, backend=store.backend), encryption]
    async with MemoryService(store, HashingEmbedder(dimension=32), policies=policies) as memory:
        results = await exercise(memory)
    emitted = [JsonFormatter().format(record) for record in logs.records]
    emitted += [f"{value!s} {value!r}" for value in results]
    emitted += [event.to_json() for event in sink.events]
    emitted += [repr(keyring), repr(load_settings()), repr(memory), repr(store)]
    assert logs.records, "nothing was logged: the test would prove nothing"
    for text in emitted:
        assert CANARY not in text
        assert SECRET not in text


def test_secret_settings_stay_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCORE_LIMITS__MAX_K", f"{SECRET}")
    with pytest.raises(MemcoreError) as raised:
        load_settings()
    assert SECRET not in f"{raised.value!s} {raised.value!r}"
