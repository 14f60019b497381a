"""Commands that move or remove data: export, import, clear."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated

import typer

from memcore import debug
from memcore.cli._app import (
    JsonOption,
    app,
    every_user,
    guarded,
    print_json,
    print_table,
    progress,
    run_with_service,
)
from memcore.domain import SearchFilter
from memcore.service import MemoryService

STDIO = Path("-")


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
    as_json: JsonOption = False,
) -> None:
    """Export records with their vectors to JSON Lines (one user, some, or all).

    The summary goes to stderr when the records go to stdout ('-').
    """

    async def use(memory: MemoryService) -> debug.TransferResult:
        users = user if user is not None else await every_user(memory)
        total = sum([await memory.store.count(u, SearchFilter()) for u in users])
        with _open(output, "w") as out, progress("exporting", total) as advance:
            return await debug.export_jsonl(memory, out, user_ids=users, progress=advance)

    result = run_with_service(use)
    _summary("exported", result, as_json=as_json, err=output == STDIO)


@app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="JSON Lines file from export ('-': stdin).")],
    as_json: JsonOption = False,
) -> None:
    """Import an export file (idempotent: records are upserted by id)."""
    total = None if source == STDIO else guarded(lambda: _records_in(source))

    async def use(memory: MemoryService) -> debug.TransferResult:
        with _open(source, "r") as lines, progress("importing", total) as advance:
            return await debug.import_jsonl(memory, lines, progress=advance)

    result = run_with_service(use)
    _summary("imported", result, as_json=as_json)


def _summary(done: str, result: debug.TransferResult, *, as_json: bool, err: bool = False) -> None:
    if as_json:
        print_json({done: result.records, "users": result.users}, err=err)
    else:
        typer.echo(f"{done} {result.records} records of {result.users} users", err=err)


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
