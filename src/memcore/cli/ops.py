"""Commands for operators and first contact: demo, health, serve-metrics."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Annotated

import typer

from memcore.cli._app import (
    JsonOption,
    app,
    console,
    guarded,
    print_json,
    print_table,
    run_with_service,
)
from memcore.connect import connect
from memcore.demo import DEMO_USERS, QUERY, seed, what_worked
from memcore.domain import HealthReport, HealthStatus
from memcore.errors import ConfigurationError
from memcore.observability import health_to_dict, start_metrics_server
from memcore.service import MemoryService
from memcore.settings import load_settings

EXIT_CODES = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.UNHEALTHY: 2}


@app.command()
def demo() -> None:
    """Record a coaching agent's memories for three users and ask what worked for each.

    By default its memories are not kept: they stay out of the CLI's snapshot.
    """

    async def use(memory: MemoryService) -> None:
        console.print(
            f"store [bold]{memory.store.backend}[/], embedder [bold]{memory.embedder.backend}[/] "
            f"({memory.embedder.model}, {memory.embedder.dimension} dims)"
        )
        await seed(memory)
        for user in DEMO_USERS:
            print_table(
                f"{user}: what worked when {QUERY!r}?",
                ("score", "task", "context", "intervention", "outcome"),
                (
                    (
                        f"{hit.score:.3f}",
                        hit.record.task,
                        hit.record.context,
                        hit.record.intervention_text,
                        hit.record.outcome.value,
                    )
                    for hit in await what_worked(memory, user)
                ),
            )
            stats = await memory.stats(user)
            console.print(
                f"  {stats.interventions} interventions, {stats.reflections} reflection(s)\n"
            )

    run_with_service(use, opener=connect)


@app.command()
def health(as_json: JsonOption = False) -> None:
    """Check the store, embedder, schema and cache; exit 0 healthy, 1 degraded, 2 unhealthy."""

    async def use(memory: MemoryService) -> HealthReport:
        return await memory.health()

    report = run_with_service(use)
    if as_json:
        print_json(health_to_dict(report))
    else:
        print_table(
            f"memcore health: {report.status.value}",
            ("component", "status", "latency ms", "detail"),
            ((c.component, c.status.value, f"{c.latency_ms:.2f}", c.detail) for c in report.checks),
        )
    raise typer.Exit(EXIT_CODES[report.status])


@app.command("serve-metrics")
def serve_metrics(
    host: Annotated[str | None, typer.Option(help="Bind address (MEMCORE_METRICS__HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port, 0 for any free one (MEMCORE_METRICS__PORT).")
    ] = None,
) -> None:
    """Serve /metrics, /healthz and /readyz until interrupted (SIGINT or SIGTERM)."""
    settings = guarded(load_settings).metrics

    async def main() -> None:
        async with connect() as memory:
            metrics = memory.telemetry.metrics
            if metrics is None:
                raise ConfigurationError("metrics are disabled", setting="MEMCORE_METRICS__ENABLED")
            server = start_metrics_server(
                memory, metrics, host or settings.host, settings.port if port is None else port
            )
            try:
                typer.echo(f"serving {server.url}/metrics /healthz /readyz", err=False)
                await _until_stopped()
            finally:
                server.close()

    guarded(lambda: asyncio.run(main()))


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows' default loop
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
