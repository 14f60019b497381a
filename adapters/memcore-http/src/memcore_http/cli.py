"""``memcore serve``: the HTTP service under uvicorn, until SIGTERM or SIGINT."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn

from memcore.cli import guarded
from memcore.errors import ConfigurationError
from memcore.settings import load_settings
from memcore_http.settings import ENV_PREFIX, HttpSettings, load_http_settings

__all__ = ["serve"]


def _checked(settings: HttpSettings) -> HttpSettings:
    if settings.workers > 1 and load_settings().store == "memory":
        raise ConfigurationError(
            "each worker would have its own in-memory store; use a shared store or one worker",
            setting=f"{ENV_PREFIX}WORKERS",
        )
    return settings


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (MEMCORE_HTTP__HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (MEMCORE_HTTP__PORT).")] = None,
) -> None:
    """Serve memcore over HTTP; every request acts for the user its credential names.

    Settings: MEMCORE_HTTP__* (MEMCORE_HTTP__AUTH is required) and the core's MEMCORE_*.
    SIGTERM stops it gracefully: in-flight requests end, then deferred writes are
    replayed one last time.
    """
    # The workers build the app from the environment, so options go there too.
    for name, value in (("HOST", host), ("PORT", port)):
        if value is not None:
            os.environ[f"{ENV_PREFIX}{name}"] = str(value)
    settings = guarded(lambda: _checked(load_http_settings()))
    uvicorn.run(
        "memcore_http.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=settings.access_log,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        lifespan="on",
    )
