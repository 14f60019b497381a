"""A Redis that is full (``maxmemory`` reached under ``noeviction``) behind ``memcore serve``:
a write is refused with 507 ``store_full``, not deferred, and nothing stored is touched.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis
from redis.exceptions import OutOfMemoryError

from conftest import start_server
from memcore_redis.testing import EmbeddedRedis
from test_routes import BREATHING, record

HEADROOM = 1 << 20
"""Bytes the server may grow by once the first record is in (then filled with ballast)."""


def _fill_until_full(redis: Redis) -> None:
    """Raise ``maxmemory`` just above what is used, then write ballast until even a tiny
    write is refused (a big one is refused while its own query buffer is counted).
    """
    used = int(redis.info("memory")["used_memory"])
    redis.config_set("maxmemory", used + HEADROOM)
    keys = itertools.count()
    for size in (64 << 10, 4 << 10, 256, 16):
        _write_until_refused(redis, size, keys)
    with pytest.raises(OutOfMemoryError):
        redis.set("ballast:probe", b"x")


def _write_until_refused(redis: Redis, size: int, keys: Iterator[int]) -> None:
    try:
        for _ in range(HEADROOM // size + 1):
            redis.set(f"ballast:{next(keys)}", b"x" * size)
    except OutOfMemoryError:
        return
    pytest.fail(f"{size}-byte writes were never refused")


def _journaled(state_dir: Path) -> list[str]:
    """Every line of every outbox journal under ``state_dir``."""
    journals = (state_dir / "outbox").rglob("*.jsonl")
    return [line for journal in journals for line in journal.read_text().splitlines()]


def test_a_write_to_a_full_redis_is_507_store_full_and_not_deferred(tmp_path: Path) -> None:
    with EmbeddedRedis(extra_args=("--maxmemory-policy", "noeviction")) as server:
        served = start_server(
            tmp_path,
            MEMCORE_HTTP__AUTH="none",
            MEMCORE_STORE="redis",
            MEMCORE_REDIS_URL=server.url,
            MEMCORE_RETRY__MAX_ATTEMPTS="1",
        )
        redis = Redis.from_url(server.url, protocol=2)
        try:
            with served.client() as client:
                kept = record(client)
                _fill_until_full(redis)
                refused = client.post(
                    "/v1/interventions", json={**BREATHING, "intervention_text": "one more"}
                )
                assert refused.status_code == 507, refused.text
                assert refused.json()["error"] == "store_full"
                metrics = httpx.get(f"{served.url}/metrics").text
                assert "memcore_outbox_waiting_records 0.0" in metrics
                assert "memcore_outbox_records_total{" not in metrics  # nothing ever deferred
                assert 'error_type="StoreFullError",operation="record_intervention"} 1.0' in (
                    metrics
                )
                assert _journaled(tmp_path) == []  # refused, not waiting in the outbox
                assert client.get(f"/v1/records/{kept['id']}").json() == kept
                assert client.get("/v1/stats").json()["interventions"] == 1
            assert len(list(redis.scan_iter(match="memcore:{*", count=1_000))) == 1
        finally:
            redis.close()
            served.stop()
