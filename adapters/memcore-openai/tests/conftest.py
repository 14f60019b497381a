from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from memcore_openai import OpenAIEmbedder, OpenAISettings
from memcore_openai.testing import FakeEmbeddingsServer
from openai_support import API_KEY, DIMENSIONS, MakeEmbedder


@pytest.fixture
def server() -> Iterator[FakeEmbeddingsServer]:
    with FakeEmbeddingsServer(api_key=API_KEY, dimensions=DIMENSIONS) as running:
        yield running


@pytest.fixture
async def make_embedder(server: FakeEmbeddingsServer) -> AsyncIterator[MakeEmbedder]:
    """Build embedders for the test server (fast retries by default) and close them after."""
    made: list[OpenAIEmbedder] = []

    def make(**overrides: object) -> OpenAIEmbedder:
        settings: dict[str, object] = {
            "api_key": API_KEY,
            "base_url": server.base_url,
            "model": "text-embedding-3-small",
            "dimensions": DIMENSIONS,
            "timeout": 2.0,
            "deadline": 10.0,
        }
        settings.update(overrides)
        embedder = OpenAIEmbedder(OpenAISettings(**settings))  # type: ignore[arg-type]
        made.append(embedder)
        return embedder

    yield make
    for embedder in made:
        await embedder.aclose()


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outboxes, snapshots and epochs of a test go to its own directory, not the home one."""
    monkeypatch.setenv("MEMCORE_STATE_DIR", str(tmp_path_factory.mktemp("state")))
