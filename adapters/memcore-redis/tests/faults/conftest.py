"""Fixtures of the fault suite: a server of its own per test, a proxy, the report.

``--reliability-report=PATH`` writes this run's report there: a new file (tox writes
``build/reliability.md``, and tests/reliability checks the committed copy against it), or
the report section of an existing page (between ``<!-- report:start -->`` and
``<!-- report:end -->``): ``--reliability-report=docs/reliability.md`` updates the docs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from .proxy import FaultProxy
from .report import REPORT, Case, render_into
from .server import FaultServer
from .workload import Stack, Tally, build_stack

PASSED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-report",
        default=None,
        help="markdown file whose report section is rewritten from this run",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fault(name): the report row a fault test fills")
    config.addinivalue_line("markers", "appendfsync(policy): the fault server's AOF fsync")
    config.addinivalue_line("markers", "case(name): the first-day case row a test fills")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:  # noqa: ARG001 - hook signature
    report = yield
    if report.when == "call":
        item.stash[PASSED] = report.passed
    return report


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    path = config.getoption("--reliability-report")
    if not path or not (REPORT.rows or REPORT.sections or REPORT.cases):
        return
    hostile = {
        outcome: sum(
            r.nodeid.startswith("tests/hostile/") for r in terminalreporter.stats.get(outcome, [])
        )
        for outcome in ("passed", "failed")
    }
    if sum(hostile.values()):
        REPORT.sections["Hostile inputs (tests/hostile, against this server)"] = {
            "cases passed": hostile["passed"],
            "cases failed": hostile["failed"],
            "of which property tests": "2 (60 generated two-tenant scenarios, 300 junk calls)",
        }
    render_into(Path(path), " ".join(["pytest", *config.invocation_params.args]), exitstatus)


@pytest.fixture
def fault_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FaultServer]:
    marker = request.node.get_closest_marker("appendfsync")
    server = FaultServer(tmp_path / "data", *(marker.args if marker else ())).start()
    yield server
    if not server.running:
        server.start()  # a test that killed it: let stop() clean up normally
    server.stop()


@pytest.fixture
async def raw(fault_server: FaultServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(fault_server.url, protocol=2)
    yield client
    await client.aclose()


@pytest.fixture
async def proxy(fault_server: FaultServer) -> AsyncIterator[FaultProxy]:
    proxy = await FaultProxy(fault_server.port).start()
    yield proxy
    await proxy.aclose()


@pytest.fixture
async def stack(fault_server: FaultServer) -> AsyncIterator[Stack]:
    stack = build_stack(fault_server.url, f"f{uuid.uuid4().hex[:8]}")
    await stack.service.start()
    yield stack
    await stack.aclose()


@pytest.fixture
async def proxied_stack(proxy: FaultProxy) -> AsyncIterator[Stack]:
    stack = build_stack(proxy.url, f"f{uuid.uuid4().hex[:8]}")
    await stack.service.start()
    yield stack
    await stack.aclose()


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    """The test's row of the report; recorded when the test passes."""
    row = Tally(fault=request.node.get_closest_marker("fault").args[0])
    yield row
    REPORT.add(row, passed=request.node.stash.get(PASSED, False))


@pytest.fixture
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    """The test's row of the first-day cases; recorded whether it passed or not."""
    row = Case(name=request.node.get_closest_marker("case").args[0])
    yield row
    REPORT.cases.append((row, request.node.stash.get(PASSED, False)))
