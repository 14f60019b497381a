"""A small HTTP endpoint for probes and scrapers: ``/metrics``, ``/healthz``, ``/readyz``.

It runs in a daemon thread (stdlib ``ThreadingHTTPServer``) and runs the service's async
``health()`` on the service's own event loop, so it fits an asyncio application (start it
from a coroutine) as well as ``memcore serve-metrics``.

- ``/metrics``: Prometheus text; each scrape refreshes the health gauges first.
- ``/healthz``: the health report as JSON; 200 unless unhealthy (503).
- ``/readyz``: 200 only when every check is healthy (started, schema checked), else 503.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from prometheus_client.exposition import CONTENT_TYPE_LATEST

from memcore.domain import HealthCheck, HealthReport, HealthStatus
from memcore.observability.health import health_to_dict
from memcore.observability.metrics import Metrics

__all__ = ["HealthSource", "MetricsServer", "start_metrics_server"]

HEALTH_TIMEOUT_S = 10.0


class HealthSource(Protocol):
    """What the endpoint probes: a :class:`~memcore.MemoryService`, usually."""

    async def health(self) -> HealthReport:
        """The current health report."""
        ...


class MetricsServer:
    """A running endpoint; :meth:`close` stops it. ``port`` is the bound port."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.host, self.port = str(host), int(port)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:9464``."""
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        """Stop serving and release the socket. Calling it twice is harmless."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


def start_metrics_server(
    source: HealthSource,
    metrics: Metrics,
    host: str = "127.0.0.1",
    port: int = 0,
    loop: asyncio.AbstractEventLoop | None = None,
) -> MetricsServer:
    """Serve ``metrics`` and ``source``'s health on ``host:port`` (0: a free port).

    Call it from the event loop that runs the service (or pass that ``loop``), and keep
    the loop running: health checks are scheduled on it.
    """
    loop = loop or asyncio.get_running_loop()

    def probe() -> HealthReport:
        started = time.perf_counter()
        future = asyncio.run_coroutine_threadsafe(source.health(), loop)
        try:
            report = future.result(timeout=HEALTH_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a probe answers 503, it does not crash
            future.cancel()
            failed = HealthCheck(
                component="service",
                status=HealthStatus.UNHEALTHY,
                latency_ms=(time.perf_counter() - started) * 1000,
                detail=f"health check failed: {type(exc).__name__}",
            )
            report = HealthReport.of((failed,))
        metrics.record_health(report)
        return report

    server = ThreadingHTTPServer((host, port), _handler(probe, metrics))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="memcore-metrics", daemon=True)
    thread.start()
    return MetricsServer(server, thread)


def _handler(probe: Callable[[], HealthReport], metrics: Metrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                probe()
                self._send(HTTPStatus.OK, metrics.exposition(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                report = probe()
                ok = report.status is not HealthStatus.UNHEALTHY
                self._send_json(ok, health_to_dict(report))
            elif path == "/readyz":
                report = probe()
                ready = report.status is HealthStatus.HEALTHY
                self._send_json(ready, {"ready": ready, "status": report.status.value})
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

        def _send_json(self, ok: bool, body: object) -> None:
            status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Silence the per-request stderr line; probes would flood it."""

    return Handler
