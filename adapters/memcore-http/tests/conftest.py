"""A real ``memcore serve`` (uvicorn in a subprocess) on a free port, and httpx clients.

The shared server knows :data:`USERS` API keys; each test takes fresh users from that
pool, so no test sees another's records. Tests that need other settings start their
own server with :func:`start_server` and stop it by its handle.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

USERS = 96
_START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def key_of(user_id: str) -> str:
    return f"key-for-{user_id}-0123456789abcdef"


@dataclass
class Server:
    """A running ``memcore serve``; :meth:`stop` sends SIGTERM and returns the exit code."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def client(self, key: str | None = None, **headers: str) -> httpx.Client:
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, then check it shut down gracefully (uvicorn re-raises the signal)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        assert code == -signal.SIGTERM, self.output()
        assert "Application shutdown complete." in self.output()


def server_env(state_dir: Path, **settings: str) -> dict[str, str]:
    """A clean environment: only what the server needs, plus ``settings``."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return {
        **env,
        "MEMCORE_STORE": "memory",
        "MEMCORE_EMBEDDER": "hashing",
        "MEMCORE_STATE_DIR": str(state_dir),
        **settings,
    }


def memcore_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from memcore.cli import main; main()", *args]


def start_server(tmp: Path, **settings: str) -> Server:
    """Start ``memcore serve`` with ``settings`` (``MEMCORE_*`` names) on a free port."""
    port = free_port()
    log = tmp / f"serve-{port}.log"
    env = server_env(tmp, MEMCORE_HTTP__PORT=str(port), **settings)
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command
            memcore_command("serve"), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    _wait_alive(server)
    return server


def _wait_alive(server: Server) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"memcore serve exited {server.process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    server.process.kill()
    pytest.fail(f"memcore serve did not answer in {_START_TIMEOUT_S} s:\n{server.output()}")


def api_key_settings(users: list[str]) -> dict[str, str]:
    return {
        "MEMCORE_HTTP__AUTH": "api_key",
        "MEMCORE_HTTP__API_KEYS": json.dumps({key_of(user): user for user in users}),
    }


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shared server: API keys for ``user-0`` .. ``user-95``."""
    users = [f"user-{n}" for n in range(USERS)]
    running = start_server(tmp_path_factory.mktemp("serve"), **api_key_settings(users))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """State this test process writes (outbox, epochs) stays in the test's directory."""
    monkeypatch.setenv("MEMCORE_STATE_DIR", str(tmp_path / "state"))


_pool = itertools.count()


@pytest.fixture
def make_client(server: Server) -> Iterator[Callable[[], httpx.Client]]:
    """Each call gives a client acting for a user no other test has used."""
    clients: list[httpx.Client] = []

    def make() -> httpx.Client:
        number = next(_pool)
        assert number < USERS, "raise USERS: the pool of users ran out"
        client = server.client(key_of(f"user-{number}"))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def alice(make_client: Callable[[], httpx.Client]) -> httpx.Client:
    return make_client()


@pytest.fixture
def bob(make_client: Callable[[], httpx.Client]) -> httpx.Client:
    return make_client()
