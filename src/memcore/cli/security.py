"""Commands for keys: rotate-key."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from memcore.cli._app import JsonOption, app, every_user, print_json, progress, run_with_service
from memcore.domain import SearchFilter
from memcore.errors import ConfigurationError
from memcore.service import MemoryService


@app.command("rotate-key")
def rotate_key(
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="Only this user (default: all).")
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=10_000, help="Records read per batch.")
    ] = 100,
    as_json: JsonOption = False,
) -> None:
    """Re-encrypt records under the primary key (``MEMCORE_ENCRYPTION__PRIMARY_KEY``).

    Rewrites only records holding another key's ciphertext (or plaintext), with their
    stored vectors, and re-wraps per-user data keys. Run it after adding a new primary
    key; then the old key can be removed from ``MEMCORE_ENCRYPTION__KEYS``. Safe to rerun.
    """

    async def use(memory: MemoryService) -> dict[str, int]:
        # Imported here: encryption needs the optional `cryptography` package.
        from memcore.security.encryption import EncryptionPolicy  # noqa: PLC0415

        layer = memory.pipeline.find(EncryptionPolicy)
        if layer is None:
            raise ConfigurationError(
                "encryption is not enabled", setting="MEMCORE_ENCRYPTION__ENABLED"
            )
        users = [user] if user is not None else await every_user(memory)
        total = sum([await memory.store.count(u, SearchFilter()) for u in users])
        with progress("re-encrypting", total) as advance:
            rotated = await layer.rotate(user, batch_size=batch_size, progress=advance)
        return dataclasses.asdict(rotated)

    report = run_with_service(use)
    if as_json:
        print_json(report)
        return
    typer.echo(
        f"rotated {report['users']} users: {report['rewritten']} of {report['scanned']} "
        f"records re-encrypted, {report['keys_rewrapped']} data keys re-wrapped"
    )
