"""Encryption switched on where the optional ``cryptography`` package is missing."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

# A process where ``import cryptography`` fails, as on an install without the extra.
_SCRIPT = """
import asyncio, sys
sys.modules["cryptography"] = None
import memcore

async def main():
    try:
        async with memcore.connect():
            print("connected")
    except memcore.ConfigurationError as exc:
        print(f"ConfigurationError|{exc.setting}|{exc}")

asyncio.run(main())
"""


def test_connect_names_the_missing_package_and_the_install(tmp_path: Path) -> None:
    key = base64.b64encode(b"k" * 32).decode()
    env = {
        **os.environ,
        "MEMCORE_STATE_DIR": str(tmp_path),
        "MEMCORE_STORE": "memory",
        "MEMCORE_EMBEDDER": "hashing",
        "MEMCORE_ENCRYPTION__ENABLED": "true",
        "MEMCORE_ENCRYPTION__KEYS": json.dumps({"k1": key}),
        "MEMCORE_ENCRYPTION__PRIMARY_KEY": "k1",
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    kind, setting, message = done.stdout.strip().split("|")
    assert (kind, setting) == ("ConfigurationError", "MEMCORE_ENCRYPTION__ENABLED")
    assert "'cryptography' package" in message
    assert "pip install 'agent-memcore[encryption]'" in message
