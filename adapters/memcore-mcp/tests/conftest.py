"""``memcore mcp`` as a real subprocess, reached with the official SDK's own client.

stdio: the client spawns the server. HTTP: a server process on a free port, stopped
by its handle. Each environment is built from scratch: the in-memory store (with a
snapshot file when a test needs data to outlive one process) and the hashing embedder.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

MEMCORE = ("-c", "from memcore.cli import main; main()")
_START_TIMEOUT_S = 30.0


def token_of(user_id: str) -> str:
    return f"token-of-{user_id}-0123456789abcdef"


def server_env(state_dir: Path, **settings: str) -> dict[str, str]:
    """A clean environment: only what the server needs, plus ``settings``."""
    return {
        "PATH": os.environ["PATH"],
        "MEMCORE_STORE": "memory",
        "MEMCORE_EMBEDDER": "hashing",
        "MEMCORE_STATE_DIR": str(state_dir),
        **settings,
    }


def stdio(state_dir: Path, *args: str, **settings: str) -> Client:
    """A client that spawns ``memcore mcp *args`` over stdio."""
    params = StdioServerParameters(
        command=sys.executable, args=[*MEMCORE, "mcp", *args], env=server_env(state_dir, **settings)
    )
    return Client(params)


def structured(result: Any) -> dict[str, Any]:
    """A successful call's structured content."""
    assert not result.is_error, result.content
    content: dict[str, Any] = result.structured_content
    return content


def error_text(result: Any) -> str:
    """A failed call's message (a tool error, not a crash)."""
    assert result.is_error
    text: str = result.content[0].text
    assert "Traceback" not in text
    return text


@dataclass
class HttpServer:
    """A running ``memcore mcp --transport http``."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @asynccontextmanager
    async def client(self, token: str | None) -> AsyncIterator[Client]:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        async with (
            create_mcp_http_client(headers=headers) as http,
            Client(streamable_http_client(self.url, http_client=http)) as client,
        ):
            yield client

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_http_server(tmp_path: Path, tokens: dict[str, Any]) -> Iterator[HttpServer]:
    """``memcore mcp --transport http`` with ``MEMCORE_MCP__TOKENS`` = ``tokens``."""
    port = _free_port()
    log = tmp_path / "mcp.log"
    env = server_env(tmp_path, MEMCORE_MCP__TOKENS=json.dumps(tokens))
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, *MEMCORE, "mcp", "--transport", "http", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = HttpServer(process, f"http://127.0.0.1:{port}/mcp", log)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not _answers(server.url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"memcore mcp did not start:\n{log.read_text()}")
        time.sleep(0.05)
    yield server
    server.stop()


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[HttpServer]:
    """``memcore mcp --transport http`` with tokens for alice and bob."""
    with running_http_server(tmp_path, {token_of(user): user for user in ("alice", "bob")}) as up:
        yield up


def _answers(url: str) -> bool:
    try:
        httpx2.get(url, timeout=1)
    except httpx2.TransportError:
        return False
    return True
