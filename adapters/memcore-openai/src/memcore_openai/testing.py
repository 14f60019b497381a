"""A real HTTP server speaking the OpenAI embeddings API, for tests and benchmarks.

:class:`FakeEmbeddingsServer` listens on 127.0.0.1 (a free port) in a background thread
and answers ``POST /v1/embeddings`` like the real API: deterministic unit vectors derived
from each text, ``base64`` or ``float`` encoding, the requested ``dimensions``, and the
API's own rejections (an empty input, too many inputs, a wrong key, an unknown model).
Queue :class:`Fault` objects with :meth:`~FakeEmbeddingsServer.inject` to make the next
requests fail in chosen ways; every request is recorded in ``requests``. For this
checkout's tests and benchmark, never imported by the embedder: the wheel leaves this
module out (``scripts/check-wheels`` fails if it ships). Stdlib and numpy only::

    with FakeEmbeddingsServer(api_key="sk-test") as server:
        server.inject(Fault(status=429, headers={"Retry-After": "0.1"}))
        settings = OpenAISettings(base_url=server.base_url, api_key="sk-test")
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["FakeEmbeddingsServer", "Fault", "RecordedRequest", "fake_vector"]


def fake_vector(text: str, dimensions: int) -> NDArray[np.float32]:
    """The unit vector the server returns for ``text``: the same in every process."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    rng = np.random.default_rng(int.from_bytes(digest, "little"))
    vector = rng.standard_normal(dimensions).astype(np.float32)
    vector /= np.linalg.norm(vector)
    return vector


@dataclass(frozen=True)
class Fault:
    """How to spoil one request. Fields combine; the defaults spoil nothing.

    ``message`` may contain ``{authorization}``, replaced by the Authorization header the
    client sent (servers that echo credentials exist; this tests that we never show them).
    """

    status: int | None = None
    """Answer with this HTTP status and an OpenAI-style error body instead of vectors."""
    message: str = "injected failure"
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers, e.g. ``{"Retry-After": "0.2"}``."""
    delay: float = 0.0
    """Seconds to wait before answering (to outlast the client's timeout)."""
    body: bytes | None = None
    """Send these bytes as a 200 JSON reply instead (malformed JSON...)."""
    dimensions: int | None = None
    """Return vectors of this length, whatever was asked."""
    drop: int = 0
    """Leave out this many vectors from the end of the reply."""
    non_finite: bool = False
    """Put a NaN in the first vector."""
    reverse: bool = False
    """List the vectors in reverse order (their ``index`` fields stay correct)."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float
    """``time.monotonic()`` when it arrived."""

    @property
    def inputs(self) -> list[str]:
        """The texts it asked to embed."""
        raw = self.body.get("input", [])
        return [raw] if isinstance(raw, str) else list(raw)


class FakeEmbeddingsServer:
    """``POST /v1/embeddings`` on 127.0.0.1, in a thread; use as a context manager."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        dimensions: int = 1536,
        max_inputs: int = 2048,
        models: frozenset[str] | None = None,
    ) -> None:
        self._state = _State(
            api_key=api_key, dimensions=dimensions, max_inputs=max_inputs, models=models
        )
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give a client: ``http://127.0.0.1:<port>/v1``."""
        if self._httpd is None:
            msg = "the server is not started"
            raise RuntimeError(msg)
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def inject(self, *faults: Fault) -> None:
        """Spoil the next ``len(faults)`` requests, one fault each, in order."""
        with self._state.lock:
            self._state.faults.extend(faults)

    def start(self) -> FakeEmbeddingsServer:
        """Listen on a free port and serve in a background thread."""
        handler = type("Handler", (_Handler,), {"state": self._state})
        httpd = _QuietServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = False  # stop() joins every handler: nothing outlives a test
        httpd.block_on_close = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake slow handlers, close every connection and join all threads."""
        if self._httpd is None:
            return
        self._state.stopping.set()
        self._httpd.shutdown()
        self._state.hang_up()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd, self._thread = None, None

    def __enter__(self) -> FakeEmbeddingsServer:  # noqa: PYI034 - no typing_extensions dep
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _State:
    """What the handler threads share: settings, the log, pending faults, connections."""

    def __init__(
        self,
        *,
        api_key: str | None,
        dimensions: int,
        max_inputs: int,
        models: frozenset[str] | None,
    ) -> None:
        self.api_key = api_key
        self.dimensions = dimensions
        self.max_inputs = max_inputs
        self.models = models
        self.requests: list[RecordedRequest] = []
        self.faults: deque[Fault] = deque()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()

    def hang_up(self) -> None:
        """Close every open connection, so keep-alive handlers stop waiting for more."""
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def record(self, request: RecordedRequest) -> Fault | None:
        with self.lock:
            self.requests.append(request)
            return self.faults.popleft() if self.faults else None

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self.lock:
            if add:
                self.connections.add(connection)
            else:
                self.connections.discard(connection)

    def answer(self, request: RecordedRequest, fault: Fault) -> tuple[int, dict[str, Any]]:
        """The status and JSON reply for a request the fault lets through to here."""
        body = request.body
        authorization = request.headers.get("authorization", "")
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            given = authorization.removeprefix("Bearer ")
            return _error(401, f"Incorrect API key provided: {given}.", "invalid_api_key")
        if not request.path.rstrip("/").endswith("/embeddings"):
            return _error(404, f"Invalid URL (POST {request.path})", None)
        model = body.get("model")
        if self.models is not None and model not in self.models:
            return _error(404, f"The model `{model}` does not exist", "model_not_found")
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(t, str) and t for t in inputs):
            return _error(400, "'$.input' is invalid: expected non-empty strings", None)
        if len(inputs) > self.max_inputs:
            return _error(400, f"'$.input' must have at most {self.max_inputs} items", None)
        width = fault.dimensions or int(body.get("dimensions") or self.dimensions)
        vectors = [fake_vector(text, width) for text in inputs]
        if fault.non_finite:
            vectors[0] = vectors[0].copy()
            vectors[0][0] = np.nan
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": (
                    base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                    if as_base64
                    else [float(x) for x in vector]
                ),
            }
            for index, vector in enumerate(vectors)
        ]
        data = data[: len(data) - fault.drop]
        if fault.reverse:
            data.reverse()
        tokens = sum(len(text.split()) for text in inputs)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return 200, {"object": "list", "data": data, "model": model, "usage": usage}


def _error(status: int, message: str, code: str | None) -> tuple[int, dict[str, Any]]:
    kind = "invalid_request_error" if status < 500 else "server_error"  # noqa: PLR2004
    return status, {"error": {"message": message, "type": kind, "param": None, "code": code}}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client hanging up mid-request is normal here (timeouts, stop())
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API
    # Headers and body in one segment, sent at once: otherwise Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to small replies, which would swamp benchmarks.
    disable_nagle_algorithm = True
    wbufsize = -1
    state: _State

    def setup(self) -> None:
        super().setup()
        self.state.track(self.connection, add=True)

    def finish(self) -> None:
        self.state.track(self.connection, add=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Stay quiet: tests read ``requests``, not stderr."""

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        request = RecordedRequest(
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body if isinstance(body, dict) else {},
            received_at=time.monotonic(),
        )
        fault = self.state.record(request) or Fault()
        if fault.delay and self.state.stopping.wait(fault.delay):
            return
        if fault.status is not None:
            message = fault.message.replace(
                "{authorization}", request.headers.get("authorization", "")
            )
            status, reply = _error(fault.status, message, None)
            payload = json.dumps(reply).encode()
        elif fault.body is not None:
            status, payload = 200, fault.body
        else:
            status, reply = self.state.answer(request, fault)
            payload = json.dumps(reply).encode()
        self._send(status, payload, fault.headers)

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client gave up (timed out) and hung up
