"""The typer app, shared options and how commands run a service and print results."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from filelock import FileLock
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from memcore import __version__
from memcore.connect import connect
from memcore.errors import MemcoreError
from memcore.observability import configure_logging
from memcore.service import MemoryService
from memcore.settings import InMemorySettings, LoggingSettings, load_settings, state_dir

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
AgentOption = Annotated[str | None, typer.Option("--agent", help="The agent scope (agent_id).")]
SessionOption = Annotated[
    str | None, typer.Option("--session", help="The session scope (session_id).")
]
# The CLI is for people: it logs warnings and worse unless told otherwise.
CLI_LOG_LEVEL = "WARNING"
SNAPSHOT_LOCK_TIMEOUT = 60.0
"""Seconds a command waits for another ``memcore`` process to finish with the snapshot."""


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


def cli_snapshot(snapshot_path: Path | None, state: Path) -> Path:
    """The snapshot a CLI command's in-memory store keeps its data in.

    ``MEMCORE_MEMORY__SNAPSHOT_PATH`` when set, else ``memory/cli-snapshot.npz`` in the
    state directory (beside the durable outbox), so ``memcore record`` in one process
    is found by ``memcore search`` in the next.
    """
    return snapshot_path if snapshot_path is not None else state / "memory" / "cli-snapshot.npz"


def connect_cli() -> contextlib.AbstractAsyncContextManager[MemoryService]:
    """:func:`memcore.connect` from settings, with the CLI's snapshot for the in-memory store."""
    settings = load_settings()
    if settings.store != "memory":
        return connect()
    snapshot = cli_snapshot(settings.memory.snapshot_path, state_dir(settings))
    return _locked(snapshot, connect(memory=InMemorySettings(snapshot_path=snapshot)))


@contextlib.asynccontextmanager
async def _locked(
    snapshot: Path, service: contextlib.AbstractAsyncContextManager[MemoryService]
) -> AsyncIterator[MemoryService]:
    """Hold the snapshot's lock from load to save: two commands at once never lose a write."""
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{snapshot}.lock", timeout=SNAPSHOT_LOCK_TIMEOUT):
        async with service as memory:
            yield memory


def run_with_service(
    use: Callable[[MemoryService], Awaitable[T]],
    opener: Callable[[], contextlib.AbstractAsyncContextManager[MemoryService]] = connect_cli,
) -> T:
    """Open a service (default :func:`connect_cli`), run ``use``, close; under :func:`guarded`."""

    async def main() -> T:
        async with opener() as memory:
            return await use(memory)

    return guarded(lambda: asyncio.run(main()))


async def every_user(memory: MemoryService) -> list[str]:
    """Every user id in the store, with a warning on stderr when the list may miss some
    (the store's index was still being built, or the store could not answer).
    """
    users = await memory.store.user_ids()
    if not users.complete:
        typer.secho(
            f"warning: the user list is {users.status.value}: users may be missing",
            err=True,
            fg="yellow",
        )
    return users


def print_json(data: object, *, err: bool = False) -> None:
    """One JSON document on stdout (or stderr)."""
    typer.echo(json.dumps(data, ensure_ascii=False, default=str), err=err)


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


@contextlib.contextmanager
def progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for long work; yields the ``advance(n)`` callback."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
