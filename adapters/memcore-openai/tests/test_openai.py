"""The OpenAI embedder against a real local HTTP server, through the real AsyncOpenAI client."""

from __future__ import annotations

import logging
import time
import traceback

import numpy as np
import pytest

from memcore import registry
from memcore.container import build_service
from memcore.errors import ConfigurationError, EmbeddingError, EmbeddingUnavailableError
from memcore.ports import Embedder
from memcore.settings import MemcoreSettings
from memcore.testing import EmbedderContract
from memcore_openai import OpenAIEmbedder
from memcore_openai.testing import FakeEmbeddingsServer, Fault, fake_vector
from openai_support import API_KEY, DIMENSIONS, MakeEmbedder


class TestOpenAIEmbedderContract(EmbedderContract):
    @pytest.fixture
    async def embedder(self, make_embedder: MakeEmbedder) -> Embedder:
        return make_embedder()  # closed by make_embedder


@pytest.mark.parametrize("encoding_format", ["base64", "float"])
async def test_rows_are_the_servers_vectors_in_input_order(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer, encoding_format: str
) -> None:
    texts = ["first", "second", "third"]
    vectors = await make_embedder(encoding_format=encoding_format).embed(texts)
    expected = np.stack([fake_vector(text, DIMENSIONS) for text in texts])
    np.testing.assert_array_equal(vectors, expected)
    (request,) = server.requests
    assert request.body["model"] == "text-embedding-3-small"
    assert request.body["dimensions"] == DIMENSIONS
    assert request.body["encoding_format"] == encoding_format
    assert request.headers["authorization"] == f"Bearer {API_KEY}"


async def test_extra_headers_are_sent_and_dimensions_can_be_left_out(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer
) -> None:
    embedder = make_embedder(extra_headers={"api-key": "azure-secret"}, send_dimensions=False)
    await embedder.embed(["x"])
    (request,) = server.requests
    assert request.headers["api-key"] == "azure-secret"
    assert "dimensions" not in request.body
    assert "azure-secret" not in repr(embedder)
    assert "azure-secret" not in repr(embedder.settings)


async def test_the_empty_string_is_sent_as_a_space(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer
) -> None:
    vectors = await make_embedder().embed(["", "text"])
    assert server.requests[0].inputs == [" ", "text"]
    np.testing.assert_array_equal(vectors[0], fake_vector(" ", DIMENSIONS))


async def test_reordered_replies_are_put_back_by_index(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer
) -> None:
    server.inject(Fault(reverse=True))
    vectors = await make_embedder().embed(["a", "b", "c"])
    np.testing.assert_array_equal(vectors[2], fake_vector("c", DIMENSIONS))


async def test_many_inputs_are_split_into_requests_within_the_limit(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer
) -> None:
    texts = [f"text {n}" for n in range(7)]
    vectors = await make_embedder(max_inputs_per_request=3).embed(texts)
    assert [len(request.inputs) for request in server.requests] == [3, 3, 1]
    np.testing.assert_array_equal(vectors[6], fake_vector("text 6", DIMENSIONS))


async def test_inputs_are_split_by_the_token_budget(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer
) -> None:
    texts = ["x" * 300, "y" * 300, "z" * 300]  # about 101 estimated tokens each
    await make_embedder(max_tokens_per_request=250).embed(texts)
    assert [request.inputs for request in server.requests] == [texts[:2], texts[2:]]


async def test_a_wrong_key_fails_at_once_and_never_shows_the_key(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "sk-wrong-canary-41d2-do-not-log"
    embedder = make_embedder(api_key=wrong)
    with caplog.at_level(logging.DEBUG), pytest.raises(EmbeddingError) as caught:
        await embedder.embed(["x"])
    error = caught.value
    assert len(server.requests) == 1
    assert not error.retryable
    assert "401" in str(error)
    assert "Incorrect API key provided" in str(error)
    everything = "".join(traceback.format_exception(error)) + caplog.text + repr(embedder)
    everything += repr(embedder.settings) + str(embedder.settings.model_dump())
    assert wrong not in everything


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_never_retried(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer, status: int
) -> None:
    server.inject(Fault(status=status, message=f"nope, you sent {{authorization}} ({status})"))
    with pytest.raises(EmbeddingError, match=f"HTTP {status}: nope") as caught:
        await make_embedder().embed(["x"])
    assert not isinstance(caught.value, EmbeddingUnavailableError)
    assert API_KEY not in "".join(traceback.format_exception(caught.value))
    assert len(server.requests) == 1


async def test_an_unknown_model_names_the_setting(make_embedder: MakeEmbedder) -> None:
    with FakeEmbeddingsServer(models=frozenset({"text-embedding-3-small"})) as strict:
        embedder = make_embedder(base_url=strict.base_url, model="no-such-model")
        with pytest.raises(EmbeddingError, match="MEMCORE_OPENAI_MODEL='no-such-model'"):
            await embedder.embed(["x"])


@pytest.mark.parametrize("header", ["Retry-After", "retry-after-ms"])
async def test_429_waits_as_long_as_the_server_asks(
    make_embedder: MakeEmbedder,
    server: FakeEmbeddingsServer,
    caplog: pytest.LogCaptureFixture,
    header: str,
) -> None:
    value = "0.4" if header == "Retry-After" else "400"
    server.inject(Fault(status=429, message="slow down", headers={header: value}))
    with caplog.at_level(logging.WARNING, logger="memcore_openai"):
        vectors = await make_embedder().embed(["x"])
    first, second = server.requests
    assert second.received_at - first.received_at >= 0.4
    np.testing.assert_array_equal(vectors[0], fake_vector("x", DIMENSIONS))
    assert "HTTP 429: slow down" in caplog.text
    assert API_KEY not in caplog.text


async def test_server_errors_are_retried_until_success(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer
) -> None:
    server.inject(Fault(status=500), Fault(status=503))
    vectors = await make_embedder().embed(["x"])
    assert len(server.requests) == 3
    np.testing.assert_array_equal(vectors[0], fake_vector("x", DIMENSIONS))


async def test_retries_stop_after_max_retries(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer
) -> None:
    server.inject(*[Fault(status=500, headers={"Retry-After": "0"})] * 5)
    with pytest.raises(EmbeddingUnavailableError, match=r"HTTP 500.*gave up after 3") as caught:
        await make_embedder(max_retries=2).embed(["x"])
    assert caught.value.retryable
    assert len(server.requests) == 3


async def test_a_slow_reply_times_out_and_is_retried(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer
) -> None:
    server.inject(Fault(delay=5.0))
    started = time.monotonic()
    vectors = await make_embedder(timeout=0.3).embed(["x"])
    assert time.monotonic() - started < 3.0
    assert len(server.requests) == 2
    np.testing.assert_array_equal(vectors[0], fake_vector("x", DIMENSIONS))


async def test_the_deadline_bounds_the_whole_call(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer
) -> None:
    server.inject(*[Fault(delay=5.0)] * 10)
    started = time.monotonic()
    with pytest.raises(EmbeddingUnavailableError, match="timed out"):
        await make_embedder(timeout=0.3, deadline=1.0, max_retries=10).embed(["x"])
    assert time.monotonic() - started < 2.5


async def test_a_retry_after_beyond_the_deadline_gives_up_at_once(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer
) -> None:
    server.inject(Fault(status=429, headers={"Retry-After": "30"}))
    started = time.monotonic()
    with pytest.raises(EmbeddingUnavailableError, match="gave up after 1 attempt"):
        await make_embedder(deadline=5.0).embed(["x"])
    assert time.monotonic() - started < 2.5
    assert len(server.requests) == 1


async def test_an_unreachable_server_is_unavailable(make_embedder: MakeEmbedder) -> None:
    with FakeEmbeddingsServer() as gone:
        url = gone.base_url
    with pytest.raises(EmbeddingUnavailableError, match="connection failed"):
        await make_embedder(base_url=url, max_retries=1).embed(["x"])


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (Fault(body=b'{"object": "list", "data": [{"index": 0, '), "malformed response"),
        (Fault(body=b'{"unexpected": true}'), "malformed response"),
        (Fault(dimensions=DIMENSIONS + 1), f"{DIMENSIONS + 1} dimensions, expected"),
        (Fault(drop=1), "1 embeddings for 2 inputs"),
        (Fault(non_finite=True), "non-finite"),
    ],
)
async def test_bad_replies_are_errors_and_not_retried(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer, fault: Fault, problem: str
) -> None:
    server.inject(fault)
    with pytest.raises(EmbeddingError, match=problem) as caught:
        await make_embedder().embed(["a", "b"])
    assert not caught.value.retryable
    assert len(server.requests) == 1


async def test_health_reports_and_never_raises(
    make_embedder: MakeEmbedder, server: FakeEmbeddingsServer
) -> None:
    embedder = make_embedder()
    healthy = await embedder.health()
    assert healthy.status.value == "healthy"
    assert healthy.facts["dimension"] == DIMENSIONS
    server.inject(Fault(status=500))
    sick = await embedder.health()
    assert sick.status.value == "unhealthy"
    assert "HTTP 500" in sick.detail
    assert len(server.requests) == 2  # a health check does not retry


async def test_closed_embedders_refuse_work_and_close_twice(make_embedder: MakeEmbedder) -> None:
    embedder = make_embedder()
    await embedder.embed(["x"])
    await embedder.aclose()
    await embedder.aclose()
    with pytest.raises(EmbeddingError, match="closed"):
        await embedder.embed(["x"])


def test_it_is_registered_as_openai_and_reads_its_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert registry.embedders.load("openai") is OpenAIEmbedder
    monkeypatch.setenv("MEMCORE_OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("MEMCORE_OPENAI_DIMENSIONS", "256")
    monkeypatch.setenv("MEMCORE_OPENAI_EXTRA_HEADERS", '{"x-team": "memory"}')
    embedder = registry.embedders.create(MemcoreSettings(), "openai")
    assert isinstance(embedder, OpenAIEmbedder)
    assert (embedder.model, embedder.dimension) == ("text-embedding-3-small", 256)
    assert embedder.settings.extra_headers["x-team"].get_secret_value() == "memory"
    assert API_KEY not in repr(embedder)


def test_a_key_is_required_for_openai_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMCORE_OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError) as caught:
        OpenAIEmbedder.from_settings(MemcoreSettings())
    assert caught.value.setting == "MEMCORE_OPENAI_API_KEY"
    monkeypatch.setenv("MEMCORE_OPENAI_BASE_URL", "http://localhost:11434/v1")
    assert OpenAIEmbedder.from_settings(MemcoreSettings()).settings.api_key is None


def test_a_bad_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCORE_OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("MEMCORE_OPENAI_TIMEOUT", "-1")
    with pytest.raises(ConfigurationError) as caught:
        OpenAIEmbedder.from_settings(MemcoreSettings())
    assert caught.value.setting == "MEMCORE_OPENAI_TIMEOUT"
    assert API_KEY not in str(caught.value)


async def test_a_server_without_keys_works_without_one(make_embedder: MakeEmbedder) -> None:
    with FakeEmbeddingsServer(dimensions=DIMENSIONS) as open_server:
        embedder = make_embedder(base_url=open_server.base_url, api_key=None)
        assert (await embedder.embed(["x"])).shape == (1, DIMENSIONS)
        await embedder.aclose()


async def test_through_the_service_total_attempts_are_the_configured_attempts(
    server: FakeEmbeddingsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One retry owner: the service's retry layer (3 attempts here) leaves the embedder,
    which retries by itself, alone; ``Retry-After`` is honoured.
    """
    for name, value in {
        "MEMCORE_OPENAI_API_KEY": API_KEY,
        "MEMCORE_OPENAI_BASE_URL": server.base_url,
        "MEMCORE_OPENAI_DIMENSIONS": str(DIMENSIONS),
        "MEMCORE_OPENAI_MAX_RETRIES": "2",
    }.items():
        monkeypatch.setenv(name, value)
    service = await build_service(
        store="memory", embedder="openai", retry={"max_attempts": 3, "base_delay": 0.01}
    )
    try:
        server.inject(*[Fault(status=503, headers={"Retry-After": "0.2"})] * 20)
        started = time.monotonic()
        with pytest.raises(EmbeddingUnavailableError, match="gave up after 3"):
            await service.record_intervention("u", "hello", task="t")
        assert len(server.requests) == 3  # MEMCORE_OPENAI_MAX_RETRIES + 1, not 3 x 3
        assert time.monotonic() - started >= 0.4  # two waits of Retry-After
    finally:
        await service.aclose()
