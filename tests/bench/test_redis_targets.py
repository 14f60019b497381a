"""The Redis side of ``memcore bench``: each storage type is its own family, and every
target (floor, memcore's service and bare store, RedisVL) answers the benchmark's query
on a real server.
"""

from __future__ import annotations

import asyncio

from memcore_bench.redis_targets import (
    MemcoreRedisTarget,
    RedisFloor,
    RedisVLTarget,
    redis_targets,
)
from memcore_bench.report import Run, TargetInfo, rows
from memcore_bench.runner import run_targets
from memcore_bench.workload import make_workload
from memcore_redis.commands import call


async def test_every_redis_target_answers_and_memcore_meets_its_own_storage_type() -> None:
    workload = make_workload(600, users=3, dimension=16, queries=20)
    targets = redis_targets(with_json=True, with_redisvl=True)
    families = {target.name: (target.family, target.role) for target in targets}
    assert families == {
        "redis-py floor": ("redis", "floor"),
        "memcore Redis HASH service": ("redis", "memcore"),
        "memcore Redis HASH bare store": ("redis", "memcore"),
        "RedisVL": ("redis", "redisvl"),
        "redis-py floor JSON": ("redis json", "floor"),
        "memcore Redis JSON service": ("redis json", "memcore"),
        "memcore Redis JSON bare store": ("redis json", "memcore"),
        "RedisVL JSON": ("redis json", "redisvl"),
    }
    figures = await run_targets(workload, targets, writes=5, health_checks=3)
    for name, measured in figures.items():
        assert measured.recall is not None
        assert measured.recall >= 0.95, name  # HNSW at this size finds (nearly) all
        assert len(measured.write_ms) == 5
        assert measured.bytes_per_record is not None
        assert measured.bytes_per_record > 16 * 4  # at least the vector
    run = Run(
        n=600,
        users=3,
        dimension=16,
        queries=20,
        k=workload.k,
        targets=tuple(TargetInfo(name, *pair) for name, pair in families.items()),
        figures=figures,
    )
    table = {(row["metric"], row["target"]): row for row in rows(run)}
    json_knn = table["knn_p50_ms", "memcore Redis JSON service"]
    their_p50 = table["knn_p50_ms", "RedisVL JSON"]["value"]
    assert json_knn["vs_redisvl"] == json_knn["value"] / their_p50


async def test_the_floor_and_redisvl_index_metadata_as_memcore_does() -> None:
    """'The same schema': metadata is filterable in every target, not only in memcore."""
    workload = make_workload(60, users=1, dimension=16, queries=2)
    records = list(workload.interventions)
    chat = sum(record.metadata["channel"] == "chat" for record in records)
    assert 0 < chat < len(records)
    targets = [RedisFloor(storage) for storage in ("hash", "json")]
    targets += [RedisVLTarget(storage) for storage in ("hash", "json")]
    for target in targets:
        try:
            await target.setup(workload)
            await target.ingest(workload.users[0], records, workload.vectors)
            index = "floor-idx" if target.role == "floor" else "rvl-idx"
            found = await call(
                target.raw, "FT.SEARCH", index, r"@metadata_tags:{channel\:chat}", "LIMIT", 0, 0
            )
            assert found == [chat], target.name
        finally:
            await target.aclose()


async def test_the_redis_service_keeps_its_state_in_a_directory_of_its_own() -> None:
    """As connect() builds it, the store remembers the data epoch in the state directory:
    the bench's own, removed at close.
    """
    workload = make_workload(20, users=1, dimension=8, queries=1)
    target = MemcoreRedisTarget("hash")
    try:
        await target.setup(workload)
        epochs = await asyncio.to_thread(lambda: list(target.state_dir.glob("epoch/*/epoch")))
        assert len(epochs) == 1
    finally:
        await target.aclose()
    assert not await asyncio.to_thread(target.state_dir.exists)
