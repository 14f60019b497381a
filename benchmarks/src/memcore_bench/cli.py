"""``memcore bench``: the comparison of memcore with RedisVL and the floors, in one command."""

from __future__ import annotations

import asyncio
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from memcore_bench.scripts import MANIFEST, ScriptRun, run_scripts
from memcore_bench.suite import MILLION, Config, run_suite, write_report

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
    queries: Annotated[int, typer.Option(help="Filtered KNN queries per run.")] = 1_000,
    redis: Annotated[bool, typer.Option(help="Start embedded Redis servers.")] = True,
    embedding: Annotated[bool, typer.Option(help="Measure the local model if installed.")] = True,
    json_max: Annotated[int, typer.Option(help="Largest N for the Redis JSON layout.")] = 100_000,
    large_users: Annotated[
        bool, typer.Option(help="Run each N below a million again with ten users.")
    ] = False,
    plots: Annotated[bool, typer.Option(help="Write PNG plots (needs matplotlib).")] = True,
    scripts: Annotated[
        bool,
        typer.Option(
            help=f"Then run every per-issue benchmark script ({MANIFEST}, from a checkout's root)."
        ),
    ] = False,
    out: Annotated[Path, typer.Option(help="Directory for results.md/json and plots.")] = Path(
        "docs/bench"
    ),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print results.json, not the markdown, on stdout.")
    ] = False,
) -> None:
    """Measure memcore (in-memory, Redis HASH and JSON) against RedisVL and the bare floors."""
    if scripts and not MANIFEST.is_file():
        raise typer.BadParameter(
            f"{MANIFEST} not found: run --scripts from the root of a memcore checkout",
            param_hint="--scripts",
        )
    chosen: dict[str, Any] = {
        "users": users,
        "dimension": dimension,
        "redis": redis,
        "embedding": embedding,
        "json_max": json_max,
        "large_users": large_users,
        "plots": plots,
    }
    if quick:
        config = Config.quick(**chosen, **({"sizes": tuple(n)} if n else {}))
    else:
        sizes = tuple(n) if n else Config().sizes
        config = Config(sizes=(*sizes, MILLION) if million else sizes, queries=queries, **chosen)
    runs, meta, notes = asyncio.run(run_suite(config))
    script_runs = (
        run_scripts(MANIFEST, out / "scripts", small=quick, on_done=_say_done) if scripts else []
    )
    args = sys.argv[sys.argv.index("bench") + 1 :] if "bench" in sys.argv else sys.argv[1:]
    command = shlex.join(["memcore", "bench", *args])
    for path in write_report(runs, meta, notes, out, command, scripts=script_runs):
        typer.echo(f"wrote {path}", err=as_json)
    typer.echo((out / ("results.json" if as_json else "results.md")).read_text(encoding="utf-8"))
    if any(run.failure for run in script_runs):
        raise typer.Exit(1)


def _say_done(run: ScriptRun) -> None:
    verdict = f"FAILED ({run.failure})" if run.failure else "ok"
    typer.echo(f"{run.command}: {run.seconds:,.0f} s, {verdict}", err=True)
