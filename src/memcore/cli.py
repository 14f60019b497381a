"""The ``memcore`` command line: demo, health and stats (adapters add their own commands).

Errors print as one line and exit non-zero; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from memcore.connect import connect
from memcore.demo import DEMO_USERS, QUERY, seed, what_worked
from memcore.domain import HealthReport, HealthStatus
from memcore.errors import MemcoreError
from memcore.service import MemoryService

T = TypeVar("T")

app = typer.Typer(help="memcore: long-term memory for AI agents.", no_args_is_help=True)
console = Console()
_state = {"debug": False}

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
EXIT_CODES = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.UNHEALTHY: 2}


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


def run_with_service(use: Callable[[MemoryService], Awaitable[T]]) -> T:
    """Connect from settings, run ``use`` and close; memcore errors become one line + exit 1."""

    async def main() -> T:
        async with connect() as memory:
            return await use(memory)

    try:
        return asyncio.run(main())
    except MemcoreError as exc:
        if _state["debug"]:
            raise
        typer.secho(f"error: {type(exc).__name__}: {exc}", err=True, fg="red")
        raise typer.Exit(1) from None


@app.command()
def demo() -> None:
    """Record a coaching agent's memories for three users and ask what worked for each."""

    async def use(memory: MemoryService) -> None:
        console.print(
            f"store [bold]{memory.store.backend}[/], embedder [bold]{memory.embedder.backend}[/] "
            f"({memory.embedder.model}, {memory.embedder.dimension} dims)"
        )
        await seed(memory)
        for user in DEMO_USERS:
            table = Table(title=f"{user}: what worked when {QUERY!r}?", title_justify="left")
            for column in ("score", "task", "context", "intervention", "outcome"):
                table.add_column(column)
            for hit in await what_worked(memory, user):
                record = hit.record
                table.add_row(
                    f"{hit.score:.3f}",
                    record.task,
                    record.context,
                    record.intervention_text,
                    record.outcome.value,
                )
            console.print(table)
            stats = await memory.stats(user)
            console.print(
                f"  {stats.interventions} interventions, {stats.reflections} reflection(s)\n"
            )

    run_with_service(use)


@app.command()
def health(as_json: JsonOption = False) -> None:
    """Check the store and embedder; exit 0 healthy, 1 degraded, 2 unhealthy."""

    async def use(memory: MemoryService) -> HealthReport:
        return await memory.health()

    report = run_with_service(use)
    if as_json:
        typer.echo(json.dumps(health_to_dict(report)))
    else:
        table = Table(title=f"memcore health: {report.status.value}", title_justify="left")
        for column in ("component", "status", "latency ms", "detail"):
            table.add_column(column)
        for check in report.checks:
            table.add_row(
                check.component, check.status.value, f"{check.latency_ms:.2f}", check.detail
            )
        console.print(table)
    raise typer.Exit(EXIT_CODES[report.status])


def health_to_dict(report: HealthReport) -> dict[str, Any]:
    """The JSON form of a health report (also served by ``/healthz``)."""
    return {
        "status": report.status.value,
        "checks": [
            {
                "component": check.component,
                "status": check.status.value,
                "latency_ms": round(check.latency_ms, 3),
                "detail": check.detail,
                "facts": check.facts,
            }
            for check in report.checks
        ],
    }


@app.command()
def stats(
    user: Annotated[str, typer.Option("--user", "-u", help="The user id.")],
    as_json: JsonOption = False,
) -> None:
    """Count a user's memories by kind and outcome."""

    async def use(memory: MemoryService) -> Any:
        return await memory.stats(user)

    result = run_with_service(use)
    data = {
        "user_id": result.user_id,
        "interventions": result.interventions,
        "reflections": result.reflections,
        "by_outcome": result.by_outcome,
    }
    if as_json:
        typer.echo(json.dumps(data))
        return
    table = Table(title=f"memories of {user}", title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("interventions", str(result.interventions))
    table.add_row("reflections", str(result.reflections))
    for outcome, count in sorted(result.by_outcome.items()):
        table.add_row(f"  outcome {outcome}", str(count))
    console.print(table)


def _add_adapter_commands() -> None:
    """Adapters contribute commands through the ``memcore.cli`` entry-point group."""
    for ep in entry_points(group="memcore.cli"):
        try:
            command = ep.load()
        except ImportError as exc:
            typer.secho(f"warning: command {ep.name!r} unavailable: {exc}", err=True, fg="yellow")
            continue
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=ep.name)
        else:
            app.command(ep.name)(command)


def main() -> None:
    """Console-script entry point."""
    _add_adapter_commands()
    app()
