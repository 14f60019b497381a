"""``memcore migrate``: move a Redis key prefix to the readable layout, online.

Registered in the ``memcore.cli`` entry-point group; also runs alone as
``python -m memcore_redis.migrate_cli``. Reads ``MEMCORE_REDIS_*`` like the store does.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from memcore.cli import guarded
from memcore_redis.migrate import Migration, Report
from memcore_redis.schema import index_info
from memcore_redis.settings import RedisSettings, load_redis_settings

_SAID = {
    "empty": "nothing stored under this key prefix: nothing to migrate",
    "up_to_date": "already in the readable layout: nothing to migrate",
    "migrated": "migrated",
    "dry_run": "dry run: nothing written",
}


def migrate(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be converted; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Records read and converted per round trip.")
    ] = 100,
    rate: Annotated[
        float | None,
        typer.Option(min=1, help="At most this many records a second (spares a busy server)."),
    ] = None,
) -> None:
    """Migrate the Redis store's records to the readable layout, while the store serves.

    Builds the new index beside the old one, backfills, switches the index alias, then
    drops the old fields. Safe to stop at any moment and to run again.
    """
    settings = guarded(load_redis_settings)
    report = guarded(lambda: asyncio.run(_run(settings, dry_run, as_json, batch_size, rate)))
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    typer.echo(f"{_SAID[report.status]} ({report.storage_type} storage, index {report.index})")
    if report.status in ("migrated", "dry_run"):
        typer.echo(
            f"  layout {report.from_version} -> {report.to_version}, new index "
            f"{report.new_index}, {report.records} records"
            f"{' in the old layout' if report.status == 'dry_run' else ' converted'}"
            f"{', resumed' if report.resumed else ''}"
        )
        for phase, converted in report.passes.items():
            typer.echo(f"  {phase}: {converted}")


async def _run(
    settings: RedisSettings, dry_run: bool, quiet: bool, batch_size: int, rate: float | None
) -> Report:
    migration = Migration(settings, batch_size=batch_size, rate=rate)
    try:
        info = await index_info(migration.client, settings.index, "migrate")
        bar = Progress(
            TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=Console(stderr=True), disable=quiet,
        )  # fmt: skip
        total = info.num_docs if info is not None else None
        tasks: dict[str, TaskID] = {}

        def advance(phase: str, count: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.advance(tasks[phase], count)

        with bar:
            return await migration.run(dry_run=dry_run, progress=advance)
    finally:
        await migration.aclose()


if __name__ == "__main__":
    typer.run(migrate)
