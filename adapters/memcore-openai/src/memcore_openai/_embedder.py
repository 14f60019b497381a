"""The ``openai`` embedder: the embeddings API with our own retries, limits and checks."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Sequence
from functools import partial

import numpy as np
import openai
from openai.types import CreateEmbeddingResponse
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_random_exponential

from memcore.domain import HealthCheck, HealthStatus
from memcore.errors import EmbeddingError, EmbeddingUnavailableError
from memcore.ports import Vectors
from memcore.settings import MemcoreSettings
from memcore_openai._batching import plan
from memcore_openai._errors import Redactor, Transient, translate
from memcore_openai._settings import OpenAISettings, openai_settings

logger = logging.getLogger(__name__)

_OPENAI_URL = "https://api.openai.com/v1"
# The API rejects the empty string; one space embeds as "no content" everywhere.
_EMPTY_STAND_IN = " "
# Shapes of broken replies the client lets through, as the errors they raise on access.
_MALFORMED = (openai.OpenAIError, ValueError, TypeError, KeyError, AttributeError)


class OpenAIEmbedder:
    """Embeds through ``POST {base_url}/embeddings`` with the real ``AsyncOpenAI`` client.

    The client's own retries are off: this class retries transient failures itself
    (see :mod:`memcore_openai._errors`), honouring ``Retry-After``, with every attempt
    and wait inside one overall ``deadline`` per :meth:`embed` call. Large inputs are
    split into requests within ``max_inputs_per_request`` and ``max_tokens_per_request``
    and sent one after another, so a rate limit is met by one request at a time.
    """

    backend = "openai"
    #: The one owner of its retries (``MEMCORE_OPENAI_MAX_RETRIES``, ``Retry-After``):
    #: memcore's retry layer leaves this embedder's calls alone.
    retries_itself = True

    def __init__(self, settings: OpenAISettings | None = None) -> None:
        self.settings = settings if settings is not None else OpenAISettings.load()
        secrets = [value.get_secret_value() for value in self.settings.extra_headers.values()]
        if self.settings.api_key is not None:
            secrets.append(self.settings.api_key.get_secret_value())
        self._redact = Redactor(secrets)
        self._backoff = wait_random_exponential(multiplier=0.5, max=8)
        self._client: openai.AsyncOpenAI | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, settings: MemcoreSettings) -> OpenAIEmbedder:
        """Build from the ``openai`` section of ``settings`` (``MEMCORE_OPENAI_*``)."""
        return cls(openai_settings(settings))

    def __repr__(self) -> str:
        return (
            f"OpenAIEmbedder(model={self.model!r}, dimensions={self.dimension}, "
            f"base_url={self.settings.base_url or _OPENAI_URL!r})"
        )

    @property
    def dimension(self) -> int:
        return self.settings.dimensions

    @property
    def model(self) -> str:
        return self.settings.model

    def _connection(self) -> openai.AsyncOpenAI:
        if self._closed:
            raise EmbeddingError("the embedder is closed", operation="embed", backend="openai")
        if self._client is None:
            settings = self.settings
            self._client = openai.AsyncOpenAI(
                # Servers that need no key (Ollama, vLLM) ignore the placeholder.
                api_key="unused"
                if settings.api_key is None
                else settings.api_key.get_secret_value(),
                organization=settings.organization,
                project=settings.project,
                base_url=settings.base_url or _OPENAI_URL,
                default_headers={
                    name: value.get_secret_value() for name, value in settings.extra_headers.items()
                },
                timeout=settings.timeout,
                max_retries=0,
            )
        return self._client

    async def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        deadline_at = time.monotonic() + self.settings.deadline
        for span in plan(
            texts,
            max_inputs=self.settings.max_inputs_per_request,
            max_tokens=self.settings.max_tokens_per_request,
        ):
            inputs = [texts[index] or _EMPTY_STAND_IN for index in span]
            out[span.start : span.stop] = await self._request(
                inputs, deadline_at, attempts=self.settings.max_retries + 1
            )
        return out

    async def _request(self, inputs: list[str], deadline_at: float, *, attempts: int) -> Vectors:
        started = time.monotonic()
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Transient),
            wait=self._wait,
            stop=partial(_out_of_budget, attempts=attempts, deadline_at=deadline_at),
            before_sleep=self._log_retry,
            sleep=asyncio.sleep,
            reraise=True,
        )
        try:
            return await retrying(self._attempt, inputs, deadline_at)
        except Transient as exc:
            tries = retrying.statistics.get("attempt_number", 1)
            raise EmbeddingUnavailableError(
                f"{exc.error.message} (gave up after {tries} attempt(s) in "
                f"{time.monotonic() - started:.1f}s)",
                operation="embed",
                backend="openai",
            ) from exc.__cause__

    def _wait(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failure, Transient) and failure.retry_after is not None:
            return failure.retry_after
        return float(self._backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome is not None else None
        logger.warning(
            "openai embeddings attempt %d failed (%s); retrying in %.2fs",
            state.attempt_number,
            failure,
            state.upcoming_sleep,
        )

    async def _attempt(self, inputs: list[str], deadline_at: float) -> Vectors:
        budget = min(self.settings.timeout, deadline_at - time.monotonic())
        if budget <= 0:
            unavailable = EmbeddingUnavailableError("deadline passed", operation="embed")
            raise Transient(unavailable, None)
        create = self._connection().embeddings.create(
            input=inputs,
            model=self.model,
            dimensions=self.dimension if self.settings.send_dimensions else openai.omit,
            encoding_format=self.settings.encoding_format,
            timeout=budget,
        )
        try:
            # wait_for too: the client's timeout is per read, a trickling reply is not.
            response = await asyncio.wait_for(create, budget)
        except asyncio.TimeoutError as exc:
            unavailable = EmbeddingUnavailableError(
                f"request timed out after {budget:.1f}s", operation="embed", backend="openai"
            )
            raise Transient(unavailable, None) from exc
        except _MALFORMED as exc:
            error = translate(exc, self._redact, model=self.model)
            self._redact.scrub(exc)  # it becomes our error's __cause__
            raise error from exc
        try:
            return self._parse(response, len(inputs))
        except _MALFORMED as exc:
            raise translate(exc, self._redact, model=self.model) from exc

    def _parse(self, response: CreateEmbeddingResponse, count: int) -> Vectors:
        data = response.data
        if len(data) != count:
            raise _bad_reply(f"{len(data)} embeddings for {count} inputs")
        if sorted(item.index for item in data) != list(range(count)):
            raise _bad_reply(f"embedding indices are not 0..{count - 1}")
        out = np.empty((count, self.dimension), dtype=np.float32)
        for item in data:
            raw: object = item.embedding
            if isinstance(raw, str):
                row = np.frombuffer(base64.b64decode(raw, validate=True), dtype="<f4")
            else:
                row = np.asarray(raw, dtype=np.float32)
            if row.shape != (self.dimension,):
                raise _bad_reply(
                    f"{row.size} dimensions, expected {self.dimension} "
                    f"(MEMCORE_OPENAI_DIMENSIONS for model {self.model!r})"
                )
            out[item.index] = row
        if not np.isfinite(out).all():
            raise _bad_reply("non-finite values (NaN or infinity)")
        return out

    async def health(self) -> HealthCheck:
        started = time.monotonic()
        facts: dict[str, str | int | float | bool] = {
            "backend": self.backend,
            "model": self.model,
            "dimension": self.dimension,
            "base_url": self.settings.base_url or _OPENAI_URL,
        }
        try:
            # One attempt, one timeout: a health check reports, it does not wait out outages.
            deadline_at = started + min(self.settings.timeout, self.settings.deadline)
            await self._request(["health check"], deadline_at, attempts=1)
        except EmbeddingError as exc:
            status, detail = HealthStatus.UNHEALTHY, exc.message
        else:
            status, detail = HealthStatus.HEALTHY, f"{self.model}, {self.dimension} dims"
        return HealthCheck(
            component="embedder",
            status=status,
            latency_ms=(time.monotonic() - started) * 1000,
            detail=detail,
            facts=facts,
        )

    async def aclose(self) -> None:
        self._closed = True
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()


def _out_of_budget(state: RetryCallState, *, attempts: int, deadline_at: float) -> bool:
    """Stop when attempts are spent or the next wait would end past the deadline."""
    if state.attempt_number >= attempts:
        return True
    return time.monotonic() + (state.upcoming_sleep or 0.0) >= deadline_at


def _bad_reply(problem: str) -> EmbeddingError:
    return EmbeddingError(f"malformed response: {problem}", operation="embed", backend="openai")
