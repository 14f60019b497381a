"""Settings, the registry, the container, connect() and the public surface."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from dependency_injector import providers

import memcore
from memcore import ConfigurationError, MemoryService
from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.container import Container, build_service
from memcore.errors import AdapterNotFoundError
from memcore.ports import MemoryStore
from memcore.registry import Registry, embedders, stores
from memcore.settings import load_settings


def test_public_all_is_sorted_and_importable() -> None:
    assert memcore.__all__ == sorted(memcore.__all__)
    for name in memcore.__all__:
        assert getattr(memcore, name) is not None


def test_settings_come_from_the_environment_with_nesting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCORE_LIMITS__MAX_K", "7")
    monkeypatch.setenv("MEMCORE_HASHING__DIMENSION", "64")
    settings = load_settings()
    assert settings.limits.max_k == 7
    assert settings.hashing.dimension == 64
    assert load_settings(store="other").store == "other"


def test_settings_from_a_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("MEMCORE_LIMITS__MAX_BATCH=12\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().limits.max_batch == 12


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MEMCORE_LIMITS__MAX_K", "lots"),
        ("MEMCORE_LIMITS__MAX_K", "0"),
        ("MEMCORE_HASHING__DIMENSION", "1"),
        ("MEMCORE_LIMITS__MAX_TEXT_CHARS", "-5"),
    ],
)
def test_a_bad_setting_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert raised.value.setting == variable
    assert variable in str(raised.value)


def test_unknown_limit_in_code_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="MEMCORE_LIMITS__MAX_COLOUR"):
        load_settings(limits={"max_colour": 3})


def test_registry_finds_builtins_and_hints_at_missing_packages() -> None:
    assert "memory" in stores.names()
    assert "hashing" in embedders.names()
    assert stores.load("memory") is InMemoryStore
    with pytest.raises(AdapterNotFoundError, match="no store 'qdrant' is installed; known: "):
        stores.load("qdrant")


def test_a_known_but_missing_backend_comes_with_an_install_hint() -> None:
    registry: Registry[MemoryStore] = Registry(
        "memcore.test-empty-group", "store", hints={"vault": "memcore-vault"}
    )
    with pytest.raises(
        AdapterNotFoundError, match="install memcore-vault to use store 'vault'"
    ) as raised:
        registry.load("vault")
    assert raised.value.setting == "MEMCORE_STORE"


async def test_the_container_builds_from_settings_and_accepts_overrides() -> None:
    container = Container()
    store = InMemoryStore()
    container.store.override(providers.Object(store))
    container.embedder.override(providers.Object(HashingEmbedder(dimension=8)))
    service = await build_service(container)
    try:
        assert container.store() is store
        assert service.store.inner is store
        assert service.schema.dimension == 8
        # The container hands back the layers it built: the very policies the service runs.
        assert service.pipeline.policies == tuple(container.policies())
        assert [type(p).__name__ for p in container.policies()] == [
            "DegradationPolicy",
            "BreakerPolicy",
            "BreakerPolicy",
            "MetricsPolicy",
            "RetryPolicy",
        ]
    finally:
        await service.aclose()


async def test_connect_is_awaitable_and_a_context_manager() -> None:
    memory = await memcore.connect(hashing={"dimension": 16})
    try:
        assert isinstance(memory, MemoryService)
        assert memory.embedder.dimension == 16
    finally:
        await memory.aclose()
    async with memcore.connect() as memory:
        recorded = (await memory.record_intervention("u", "hello", task="greet")).record
        assert await memory.get("u", recorded.id) == recorded


async def test_connect_with_an_unknown_store_names_the_setting() -> None:
    with pytest.raises(AdapterNotFoundError) as raised:
        await memcore.connect(store="cassandra")
    assert raised.value.setting == "MEMCORE_STORE"


def test_the_sync_facade_works_without_an_event_loop() -> None:
    with memcore.SyncMemoryService.connect() as memory:
        recorded = (
            memory.record_intervention("u", "hello", task="greet", outcome="user_engaged")
        ).record
        hits = memory.search_interventions("u", "hello", filters={"outcome": "user_engaged"})
        assert [hit.record for hit in hits] == [recorded]
        assert memory.stats("u").interventions == 1
        assert memory.health().status.value == "healthy"
        done = memory.update_outcome("u", recorded.id, "task_completed")
        assert memory.get("u", recorded.id) == done
        assert memory.get_many("u", [recorded.id, "missing"]) == [done]
        assert memory.update("u", recorded.id, metadata={"n": 1}).metadata == {"n": 1}
        worked = memory.what_worked("u", "hello", k=1)
        assert [hit.record.id for hit in worked.hits] == [recorded.id]
        assert len(memory.search_interventions("u", "hello", min_score=-1.0)) == 1
        assert memory.search_interventions("u", "hello", min_score=0.999) == []
        memory.record_intervention("u", "scoped", task="greet", agent_id="a")
        assert memory.forget("u", agent_id="a") == 1


def test_the_sync_facade_mirrors_every_call_of_the_service() -> None:
    calls = {
        name
        for name, member in inspect.getmembers(memcore.MemoryService)
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    }
    lifetime = {"start", "aclose"}  # the facade starts in connect() and stops in close()
    mirrored = {name for name in vars(memcore.SyncMemoryService) if not name.startswith("_")}
    assert calls - lifetime <= mirrored, f"no blocking twin: {calls - lifetime - mirrored}"
    for name in calls - lifetime:
        twin = inspect.signature(getattr(memcore.SyncMemoryService, name)).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in twin.values()):
            continue  # passes every keyword on
        call = inspect.signature(getattr(memcore.MemoryService, name)).parameters
        assert list(twin) == list(call), f"{name}: {list(twin)} is not {list(call)}"


async def test_the_sync_facade_works_inside_a_running_loop() -> None:
    with memcore.SyncMemoryService.connect() as memory:
        assert memory.record_reflection("u", "insight").record.text == "insight"


def test_snapshot_keeps_data_between_runs(tmp_path: Path) -> None:
    path = tmp_path / "memories.npz"
    with memcore.SyncMemoryService.connect(memory={"snapshot_path": path}) as memory:
        recorded = (memory.record_intervention("u", "keep me", task="t")).record
    with memcore.SyncMemoryService.connect(memory={"snapshot_path": path}) as memory:
        assert memory.get("u", recorded.id) == recorded
        assert memory.search_interventions("u", "keep me")[0].record == recorded
    with pytest.raises(memcore.SchemaMismatchError, match="384 dims"):
        memcore.SyncMemoryService.connect(memory={"snapshot_path": path}, hashing={"dimension": 8})


def test_importing_memcore_has_no_side_effects() -> None:
    code = (
        "import logging, sys, memcore, memcore.testing;"
        "assert logging.getLogger('memcore').handlers == [];"
        "assert 'dependency_injector' not in sys.modules, 'container imported eagerly';"
        "banned = {'redis', 'openai', 'sentence_transformers', 'torch'} & set(sys.modules);"
        "assert not banned, banned"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_auto_picks_the_first_installed_backend(caplog: pytest.LogCaptureFixture) -> None:
    registry: Registry[MemoryStore] = Registry(
        "memcore.embedders", "embedder", auto=("not-installed", "hashing")
    )
    assert registry.resolve("auto") == "hashing"
    assert "'auto' chose 'hashing'" in caplog.text
    assert registry.resolve("memory") == "memory"
    assert embedders.resolve("auto") in {"local", "hashing"}
