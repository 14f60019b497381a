"""Commands that move or remove data: export, import, clear."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from memcore import debug
from memcore.cli._app import (
    JsonOption,
    app,
    err_console,
    guarded,
    print_json,
    print_table,
    run_with_service,
)
from memcore.domain import SearchFilter
from memcore.service import MemoryService

STDIO = Path("-")


@contextmanager
def _progress(label: str, total: int | None) -> Iterator[debug.Progress]:
    """A progress bar on stderr; yields the ``advance(n)`` callback."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def _open(path: Path, mode: str) -> Iterator[IO[str]]:
    if path == STDIO:
        yield sys.stdout if "w" in mode else sys.stdin
    else:
        with path.open(mode, encoding="utf-8") as file:
            yield file


@app.command("export")
def export_(
    output: Annotated[Path, typer.Argument(help="JSON Lines file to write ('-': stdout).")],
    user: Annotated[
        list[str] | None, typer.Option("--user", "-u", help="Only these users (default: all).")
    ] = None,
) -> None:
    """Export records with their vectors to JSON Lines (one user, some, or all)."""

    async def use(memory: MemoryService) -> debug.TransferResult:
        users = user if user is not None else await memory.store.user_ids()
        total = sum([await memory.store.count(u, SearchFilter()) for u in users])
        with _open(output, "w") as out, _progress("exporting", total) as advance:
            return await debug.export_jsonl(memory, out, user_ids=users, progress=advance)

    result = run_with_service(use)
    typer.echo(f"exported {result.records} records of {result.users} users", err=output == STDIO)


@app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="JSON Lines file from export ('-': stdin).")],
) -> None:
    """Import an export file (idempotent: records are upserted by id)."""
    total = None if source == STDIO else guarded(lambda: _records_in(source))

    async def use(memory: MemoryService) -> debug.TransferResult:
        with _open(source, "r") as lines, _progress("importing", total) as advance:
            return await debug.import_jsonl(memory, lines, progress=advance)

    result = run_with_service(use)
    typer.echo(f"imported {result.records} records of {result.users} users")


def _records_in(path: Path) -> int:
    with path.open(encoding="utf-8") as file:
        return max(sum(1 for _ in file) - 1, 0)  # the first line is the header


@app.command()
def clear(
    user: Annotated[str | None, typer.Option("--user", "-u", help="The user to clear.")] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Clear every user.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show the counts.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete one user's memories (``--user``) or everyone's (``--all``), after confirmation.

    Shows what would be deleted first; then asks you to type the user id (or "all")
    unless ``--yes`` is given. ``--dry-run`` only shows the counts.
    """
    if (user is None) == (not everyone):
        typer.secho("error: give exactly one of --user or --all", err=True, fg="red")
        raise typer.Exit(2)

    async def use(memory: MemoryService) -> tuple[debug.ClearPlan, int | None]:
        plan = await debug.plan_clear(memory, user)
        _show(plan, as_json=as_json)
        if dry_run:
            return plan, None
        confirm = plan.target if yes else _ask(plan)
        return plan, await debug.clear(memory, plan, confirm=confirm)

    plan, deleted = run_with_service(use)
    if deleted is not None:
        message = f"deleted {deleted} records of {len(plan.counts)} users"
        typer.echo(message, err=as_json)


def _show(plan: debug.ClearPlan, *, as_json: bool) -> None:
    if as_json:
        print_json({"target": plan.target, "counts": plan.counts, "total": plan.total})
        return
    rows = [*plan.counts.items(), ("TOTAL", plan.total)]
    print_table(f"clear {plan.target}: would delete", ("user", "records"), rows)


def _ask(plan: debug.ClearPlan) -> str:
    answer: str = typer.prompt(f"type {plan.target!r} to delete {plan.total} records", err=True)
    if answer != plan.target:
        typer.secho("aborted: nothing was deleted", err=True, fg="red")
        raise typer.Exit(1)
    return answer
