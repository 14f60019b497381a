"""The typer app, shared options and how commands run a service and print results."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from memcore import __version__
from memcore.connect import connect
from memcore.errors import MemcoreError
from memcore.observability import configure_logging
from memcore.service import MemoryService
from memcore.settings import LoggingSettings, load_settings

T = TypeVar("T")

app = typer.Typer(
    help="memcore: long-term memory for AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)
_state = {"debug": False}

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
UserOption = Annotated[str, typer.Option("--user", "-u", help="The user id.")]
# The CLI is for people: it logs warnings and worse unless told otherwise.
CLI_LOG_LEVEL = "WARNING"


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"memcore {__version__} (distribution agent-memcore)")
        raise typer.Exit


@app.callback()
def _options(
    version: Annotated[  # noqa: ARG001 - handled eagerly by its callback
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level", help="DEBUG, INFO, WARNING... (default MEMCORE_LOGGING__LEVEL)."
        ),
    ] = None,
) -> None:
    _state["debug"] = debug
    settings = guarded(load_settings).logging
    level = log_level or (settings.level if "level" in settings.model_fields_set else CLI_LOG_LEVEL)
    fields = {**settings.model_dump(), "level": level.upper()}
    guarded(lambda: configure_logging(LoggingSettings(**fields), stream=err_console.file))


def guarded(work: Callable[[], T]) -> T:
    """Run ``work``; an error becomes one red line and exit 1 (a traceback with ``--debug``)."""
    try:
        return work()
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if _state["debug"]:
            raise
        name = type(exc).__name__
        message = (
            str(exc) if isinstance(exc, (MemcoreError, OSError)) else f"{exc} (--debug shows more)"
        )
        typer.secho(f"error: {name}: {message}", err=True, fg="red")
        raise typer.Exit(1) from None


def run_with_service(use: Callable[[MemoryService], Awaitable[T]]) -> T:
    """Connect from settings, run ``use`` and close, under :func:`guarded`."""

    async def main() -> T:
        async with connect() as memory:
            return await use(memory)

    return guarded(lambda: asyncio.run(main()))


def print_json(data: object) -> None:
    """One JSON document on stdout."""
    typer.echo(json.dumps(data, ensure_ascii=False, default=str))


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A rich table on stdout."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console.print(table)


def shorten(text: str, width: int = 60) -> str:
    """``text`` on one line, cut to ``width`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
