"""The ``memcore`` command line (``memcore --help``).

One module per command group: :mod:`.records` (record, search, inspect, stats),
:mod:`.lifecycle` (update, what-worked),
:mod:`.data` (export, import, clear), :mod:`.ops` (demo, health, serve-metrics),
:mod:`.security` (rotate-key). Adapters add commands through the ``memcore.cli``
entry-point group. Errors print as one line and exit non-zero; ``--debug`` shows the
traceback.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

from memcore.cli import data, lifecycle, ops, records, security
from memcore.cli._app import app, guarded, run_with_service
from memcore.cli._help import polish
from memcore.observability import health_to_dict

__all__ = ["app", "guarded", "health_to_dict", "main", "run_with_service"]

_COMMAND_MODULES = (
    data,
    lifecycle,
    ops,
    records,
    security,
)  # imported for their @app.command registrations
polish(app)


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
    polish(app)


def main() -> None:
    """Console-script entry point."""
    _add_adapter_commands()
    app()
