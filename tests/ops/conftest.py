from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.domain import HealthCheck, HealthStatus
from memcore.observability import Metrics, Telemetry, configure_logging
from memcore.service import MemoryService


class SwitchableStore(InMemoryStore):
    """An in-memory store whose health can be switched off, like a stopped server."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def health(self) -> HealthCheck:
        if self.down:
            return HealthCheck("store", HealthStatus.UNHEALTHY, 0.1, "connection refused")
        return await super().health()


class LogCapture:
    """memcore logs as parsed JSON lines."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self, **match: Any) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in self.text.splitlines()]
        return [r for r in parsed if all(r.get(k) == v for k, v in match.items())]


@pytest.fixture(autouse=True)
def _reset_memcore_logger() -> Iterator[None]:
    yield
    logger = logging.getLogger("memcore")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def capture_logs() -> LogCapture:
    """Send memcore logs, as JSON at DEBUG, to a fresh capture."""
    capture = LogCapture()
    configure_logging(format="json", level="DEBUG", stream=capture.stream)
    return capture


@pytest.fixture
def new_log_capture() -> Callable[[], LogCapture]:
    return capture_logs


@pytest.fixture
def logs() -> LogCapture:
    return capture_logs()


@pytest.fixture
async def observed_service() -> AsyncIterator[MemoryService]:
    """A started in-memory service with metrics and plain user ids in logs."""
    telemetry = Telemetry(metrics=Metrics(), user_ids="plain")
    service = MemoryService(SwitchableStore(), HashingEmbedder(dimension=32), telemetry=telemetry)
    async with service:
        yield service
