"""Every setting has a known name: unknown keywords, section keys and MEMCORE_* variables
raise ConfigurationError with a did-you-mean; sections and backends registered in code.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

import memcore
from memcore import registry, sections
from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.errors import ConfigurationError
from memcore.settings import MemcoreSettings, load_settings


class ShelfSettings(BaseSettings):
    """An application's own store settings: the section ``shelf``."""

    model_config = SettingsConfigDict(env_prefix="MEMCORE_SHELF_", frozen=True)

    capacity: int = Field(default=10, ge=1)


class ShelfStore(InMemoryStore):
    """A store added in code, built from its section."""

    backend = "shelf"

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    @classmethod
    def from_settings(cls, settings: MemcoreSettings) -> ShelfStore:  # type: ignore[override]
        return cls(settings.section("shelf", ShelfSettings).capacity)


@pytest.fixture(name="shelf")
def _shelf() -> Iterator[None]:
    memcore.register_settings("shelf", ShelfSettings)
    memcore.register_store("shelf", ShelfStore)
    yield
    registry.stores.unregister("shelf")
    sections.unregister_settings("shelf")


@pytest.mark.parametrize(
    ("overrides", "hint"),
    [
        ({"stor": "memory"}, "did you mean 'store'?"),
        ({"limit": {}}, "did you mean 'limits'?"),
        ({"nothing_like_it": 1}, "unknown setting 'nothing_like_it'"),
    ],
)
async def test_an_unknown_keyword_raises_with_the_nearest_name(
    overrides: dict[str, object], hint: str
) -> None:
    with pytest.raises(ConfigurationError, match="unknown setting") as caught:
        await memcore.connect(**overrides)  # type: ignore[arg-type]
    assert hint in str(caught.value)


@pytest.mark.usefixtures("shelf")
async def test_a_section_key_spelled_flat_names_its_section() -> None:
    with pytest.raises(ConfigurationError, match=r"did you mean shelf=\{'capacity': \.\.\.\}\?"):
        await memcore.connect(store="shelf", shelf_capacity=3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("MEMCORE_STOR", "did you mean 'MEMCORE_STORE'?"),
        ("MEMCORE_LIMITS__MAX_KK", "did you mean 'MEMCORE_LIMITS__MAX_K'?"),
        ("MEMCORE_RETRY_MAX_ATTEMPTS", "did you mean 'MEMCORE_RETRY__MAX_ATTEMPTS'?"),
    ],
)
def test_an_unknown_environment_name_raises_with_the_nearest_name(
    monkeypatch: pytest.MonkeyPatch, name: str, hint: str
) -> None:
    monkeypatch.setenv(name, "1")
    with pytest.raises(ConfigurationError, match=f"unknown setting {name}") as caught:
        load_settings()
    assert hint in str(caught.value)
    assert caught.value.setting == name


@pytest.mark.parametrize(
    "name",
    [
        "MEMCORE_ENCRYPTION__KEYS__K1",  # a key of a mapping setting
        "MEMCORE_HTTP__PORT",  # memcore's own adapter, not installed here
        "MEMCORE_TEST_REDIS_URL",  # test tooling
        "MEMCORE_RELIABILITY_REPORT",
    ],
)
def test_names_owned_elsewhere_pass(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "x")
    assert load_settings().store == "memory"


@pytest.mark.usefixtures("shelf")
def test_a_section_comes_from_code_or_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    def capacity(**overrides: object) -> int:
        store = registry.stores.create(load_settings(**overrides), "shelf")
        assert isinstance(store, ShelfStore)
        return store.capacity

    assert capacity(shelf={"capacity": 3}) == 3
    assert capacity(shelf=ShelfSettings(capacity=4)) == 4
    monkeypatch.setenv("MEMCORE_SHELF_CAPACITY", "5")
    assert capacity() == 5
    assert capacity(shelf={"capacity": 6}) == 6


@pytest.mark.usefixtures("shelf")
async def test_connect_builds_a_store_registered_in_code() -> None:
    async with memcore.connect(store="shelf", shelf={"capacity": 3}) as memory:
        assert memory.store.backend == "shelf"
        await memory.record_intervention("u1", "Breathe.", task="calm", outcome="task_completed")
        assert (await memory.stats("u1")).interventions == 1


class EchoEmbedder(HashingEmbedder):
    """An embedder added in code (built from the hashing section's dimension)."""

    backend = "echo"


async def test_connect_builds_an_embedder_registered_in_code() -> None:
    memcore.register_embedder("echo", EchoEmbedder)
    try:
        async with memcore.connect(embedder="echo", hashing={"dimension": 12}) as memory:
            assert memory.embedder.inner.backend == "echo"
            assert memory.schema.dimension == 12
            await memory.record_intervention("u1", "Breathe.", task="calm")
            assert [
                hit.record.task for hit in await memory.search_interventions("u1", "Breathe.")
            ] == ["calm"]
    finally:
        registry.embedders.unregister("echo")
    with pytest.raises(memcore.AdapterNotFoundError):
        await memcore.connect(embedder="echo")


@pytest.mark.usefixtures("shelf")
async def test_a_sections_names_and_values_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'capacity'"):
        load_settings(shelf={"capacty": 3})
    with pytest.raises(ConfigurationError, match="MEMCORE_SHELF_CAPACITY"):
        load_settings(shelf={"capacity": 0})
    with pytest.raises(ConfigurationError, match="give a dict"):
        load_settings(shelf=3)
    monkeypatch.setenv("MEMCORE_SHELF_CAPACTY", "5")
    with pytest.raises(ConfigurationError, match="did you mean 'MEMCORE_SHELF_CAPACITY'"):
        await memcore.connect(store="shelf")


@pytest.mark.usefixtures("shelf")
def test_a_registered_name_is_not_taken_twice() -> None:
    with pytest.raises(ConfigurationError, match="already registered"):
        memcore.register_store("shelf", InMemoryStore)
    with pytest.raises(ConfigurationError, match="already registered"):
        memcore.register_store("memory", ShelfStore)
    memcore.register_store("shelf", InMemoryStore, replace=True)
    assert registry.stores.load("shelf") is InMemoryStore
