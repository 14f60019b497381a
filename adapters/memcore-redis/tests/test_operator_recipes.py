"""Every recipe of docs/adapters/redis.md, "Operator recipes", run on records memcore wrote.

Each redis-cli line runs as written (split as the shell would), against the default
prefix ``memcore`` on the session server; a search must find something, a read must find
every field it names. The RedisVL block runs in test_redisvl.py (tox env ``redisvl``).
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from memcore.domain import Intervention, Outcome, Reflection
from memcore.ports import UnitVectors
from memcore.testing import SCHEMA, unit_vectors

from .conftest import StoreFactory

DOC = Path(__file__).parents[3] / "docs" / "adapters" / "redis.md"
SECTION = DOC.read_text(encoding="utf-8").split("## Operator recipes", 1)[1].split("\n## ", 1)[0]
COMMANDS = [
    shlex.split(line)
    for line in re.findall(r"```text\n(.*?)```", SECTION, re.DOTALL)[0].splitlines()
]
PYTHON = re.findall(r"```python\n(.*?)```", SECTION, re.DOTALL)[0]


@pytest.fixture(params=["hash", "json"])
async def storage_type(make_store: StoreFactory, request: pytest.FixtureRequest) -> str:
    """Records of two users, under the default prefix, in each storage type."""
    await write_recipe_records(make_store, request.param)
    return str(request.param)


async def write_recipe_records(make_store: StoreFactory, storage_type: str) -> None:
    """The records the recipes find: two users', under the default prefix ``memcore``."""
    store = make_store(key_prefix="memcore", storage_type=storage_type)
    await store.ensure_schema(SCHEMA)
    when = datetime(2025, 6, 1, 12, 30, tzinfo=timezone.utc)
    for user in ("user-42", "José Pérez"):
        records = [
            Intervention(
                id="walk-1", user_id=user, intervention_text="Suggested a short walk",
                task="calm_down", context="evening", outcome=Outcome.TASK_COMPLETED,
                created_at=when, metadata={"lang": "en"},
            ),
            Reflection(id="r-1", user_id=user, text="Walks help in the evening", created_at=when),
        ]  # fmt: skip
        await store.upsert(user, records, UnitVectors(unit_vectors(2, seed=4)))


async def test_every_redis_cli_recipe_finds_what_it_says(
    storage_type: str, raw_redis: aioredis.Redis
) -> None:
    assert len(COMMANDS) >= 9
    # A record is read by the HMGET from a hash, by the JSON.GET in the prose from JSON.
    commands = [command for command in COMMANDS if command[0] != "HMGET"]
    if storage_type == "hash":
        commands += [command for command in COMMANDS if command[0] == "HMGET"]
    else:
        commands += [shlex.split(line) for line in re.findall(r"`(JSON\.GET [^`]+)`", SECTION)]
    assert len(commands) == len(COMMANDS)
    for command in commands:
        reply = await raw_redis.execute_command(*command)  # type: ignore[no-untyped-call]
        if command[0] == "FT.SEARCH":
            assert reply[0] >= 1, command
        elif command[0] == "HMGET":
            assert None not in reply, command
        elif command[0] == "JSON.GET":
            assert all(reply_values for reply_values in json.loads(reply).values()), command
        else:
            assert reply, command
