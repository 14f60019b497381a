"""``memcore bench``: the comparison of memcore with RedisVL and the floors, in one command."""

from __future__ import annotations

import asyncio
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from memcore.bench.suite import MILLION, Config, run_suite, write_report

app = typer.Typer(add_completion=False, help=__doc__)

# typer reads these annotations at run time; `X | None` needs Python 3.10's runtime union.
SizesOption = Annotated[
    Optional[list[int]],  # noqa: UP045 - typer inspects the annotation at run time on 3.10
    typer.Option("--n", help="Records per run, repeatable (default 10000 and 100000)."),
]


@app.command()
def bench(
    *,
    n: SizesOption = None,
    quick: Annotated[bool, typer.Option(help="One small run (< 2 minutes), for CI.")] = False,
    million: Annotated[bool, typer.Option(help="Add a run at N = 1,000,000.")] = False,
    users: Annotated[int, typer.Option(help="Users (0: one per 1,000 records).")] = 0,
    dimension: Annotated[int, typer.Option(help="Vector length.")] = 384,
    queries: Annotated[int, typer.Option(help="Filtered KNN queries per run.")] = 300,
    redis: Annotated[bool, typer.Option(help="Start embedded Redis servers.")] = True,
    embedding: Annotated[bool, typer.Option(help="Measure the local model if installed.")] = True,
    json_max: Annotated[int, typer.Option(help="Largest N for the Redis JSON layout.")] = 100_000,
    plots: Annotated[bool, typer.Option(help="Write PNG plots (needs matplotlib).")] = True,
    out: Annotated[Path, typer.Option(help="Directory for results.md/json and plots.")] = Path(
        "docs/bench"
    ),
) -> None:
    """Measure memcore (in-memory, Redis HASH and JSON) against RedisVL and the bare floors."""
    chosen: dict[str, Any] = {
        "users": users,
        "dimension": dimension,
        "redis": redis,
        "embedding": embedding,
        "json_max": json_max,
        "plots": plots,
    }
    if quick:
        config = Config.quick(**chosen, **({"sizes": tuple(n)} if n else {}))
    else:
        sizes = tuple(n) if n else Config().sizes
        config = Config(sizes=(*sizes, MILLION) if million else sizes, queries=queries, **chosen)
    runs, meta, notes = asyncio.run(run_suite(config))
    args = sys.argv[sys.argv.index("bench") + 1 :] if "bench" in sys.argv else sys.argv[1:]
    command = shlex.join(["memcore", "bench", *args])
    for path in write_report(runs, meta, notes, out, command):
        typer.echo(f"wrote {path}")
    typer.echo((out / "results.md").read_text(encoding="utf-8"))
