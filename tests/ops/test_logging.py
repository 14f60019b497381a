"""Every service operation is logged once, as JSON, without content or secrets."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.errors import ValidationError
from memcore.observability import Telemetry, UserIdMode, configure_logging
from memcore.service import MemoryService

LogCapture = Any  # the conftest's LogCapture, reached through fixtures

CANARY_TEXT = "canary-text-7f3a"
CANARY_CONTEXT = "canary-context-91bc"
CANARY_META = "canary-meta-55d1"
CANARY_QUERY = "canary-query-0e2f"
CANARY_USER = "canary-user-a4c8"
CANARY_SECRET = "sk-canary-secret-3b9d"  # noqa: S105 - a canary, not a secret


async def _exercise(service: MemoryService) -> None:
    saved = (
        await service.record_intervention(
            CANARY_USER,
            CANARY_TEXT,
            task="calm",
            context=CANARY_CONTEXT,
            metadata={"note": CANARY_META},
        )
    ).record
    await service.record_reflection(CANARY_USER, CANARY_TEXT + " reflection")
    await service.search_interventions(CANARY_USER, CANARY_QUERY, filters={"task": "calm"})
    await service.get(CANARY_USER, saved.id)
    await service.list(CANARY_USER)
    await service.stats(CANARY_USER)
    with pytest.raises(ValidationError):
        await service.record_intervention(CANARY_USER, "", task="calm")
    await service.delete(CANARY_USER, [saved.id])
    await service.forget_user(CANARY_USER)


async def _run(capture: LogCapture, mode: UserIdMode, *, log_content: bool) -> str:
    # A secret the process holds must not leak through any log path either.
    logging.getLogger("memcore.test").debug(
        "settings loaded", extra={"key": SecretStr(CANARY_SECRET)}
    )
    telemetry = Telemetry(user_ids=mode, log_content=log_content)
    async with MemoryService(InMemoryStore(), HashingEmbedder(32), telemetry=telemetry) as service:
        await _exercise(service)
    return capture.text


@pytest.mark.parametrize("mode", ["plain", "hashed", "omitted"])
async def test_content_and_secrets_never_appear_in_logs(
    mode: UserIdMode, new_log_capture: Callable[[], LogCapture]
) -> None:
    text = await _run(new_log_capture(), mode, log_content=False)
    assert "record_intervention" in text  # the canary is not vacuous: logs were written
    for canary in (CANARY_TEXT, CANARY_CONTEXT, CANARY_META, CANARY_QUERY, CANARY_SECRET):
        assert canary not in text
    assert (CANARY_USER in text) is (mode == "plain")


async def test_content_appears_only_when_content_logging_is_on(
    new_log_capture: Callable[[], LogCapture],
) -> None:
    text = await _run(new_log_capture(), "hashed", log_content=True)
    for canary in (CANARY_TEXT, CANARY_CONTEXT, CANARY_META, CANARY_QUERY):
        assert canary in text
    assert CANARY_SECRET not in text
    assert CANARY_USER not in text


async def test_each_operation_is_logged_once_with_its_fields(
    logs: LogCapture, observed_service: MemoryService
) -> None:
    saved = (await observed_service.record_intervention("ana", "breathe", task="calm")).record
    await observed_service.get("ana", saved.id)
    await observed_service.delete("ana", [saved.id, "missing"])

    [record] = logs.records(operation="record_intervention")
    assert record["logger"] == "memcore.service"
    assert record["level"] == "info"
    assert record["backend"] == "memory"
    assert record["user_id"] == "ana"
    assert record["status"] == "ok"
    assert record["record_ids"] == [saved.id]
    assert record["latency_ms"] >= 0
    [get] = logs.records(operation="get")  # get does not also log get_many
    assert get["record_ids"] == [saved.id]
    assert not logs.records(operation="get_many")
    [delete] = logs.records(operation="delete")
    assert delete["record_ids"] == [saved.id, "missing"]
    assert delete["count"] == 1


async def test_failures_are_logged_with_status_and_error_type(
    logs: LogCapture, observed_service: MemoryService
) -> None:
    with pytest.raises(ValidationError):
        await observed_service.search_interventions("ana", "q", k=0)
    [record] = logs.records(operation="search_interventions")
    assert record["status"] == "invalid"
    assert record["error_type"] == "ValidationError"
    assert record["error"].startswith("k:")


async def test_hashed_user_ids_are_stable_and_not_the_id(
    new_log_capture: Callable[[], LogCapture],
) -> None:
    first = await _run(new_log_capture(), "hashed", log_content=False)
    second = await _run(new_log_capture(), "hashed", log_content=False)
    hashes = {
        json.loads(line).get("user_hash") for line in first.splitlines() + second.splitlines()
    }
    assert len(hashes - {None}) == 1


def test_console_format_and_rotating_file(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "memcore.log"
    stream = io.StringIO()
    configure_logging(format="console", level="INFO", file=log_file, stream=stream)
    logging.getLogger("memcore.x").info("hello %s", "there", extra={"operation": "get"})
    logging.getLogger("memcore.x").debug("hidden")
    assert "INFO    memcore.x hello there operation=get" in stream.getvalue()
    assert "hidden" not in stream.getvalue()
    assert "hello there" in log_file.read_text()


def test_configuring_twice_replaces_the_handlers() -> None:
    logger = configure_logging(format="json")
    configure_logging(format="console")
    assert len(logger.handlers) == 1


def test_importing_memcore_configures_no_handlers() -> None:
    code = (
        "import logging, memcore, memcore.observability, memcore.cli, memcore.debug;"
        "print(len(logging.getLogger('memcore').handlers), len(logging.getLogger().handlers))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["0", "0"]
