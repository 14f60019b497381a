"""The ``local`` embedder: a sentence-transformers model, offline, off the event loop."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from memcore.domain import HealthCheck, HealthStatus
from memcore.errors import EmbeddingError
from memcore.ports import Vectors
from memcore.settings import MemcoreSettings
from memcore_sentence_transformers import _model_dir, _runtime
from memcore_sentence_transformers._coalesce import Coalescer
from memcore_sentence_transformers._settings import LocalSettings, local_settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

T = TypeVar("T")


class LocalEmbedder:
    """Embeds with a local sentence-transformers model; never downloads anything.

    The model loads on the first :meth:`embed` (or at :meth:`warm_up`) in a private worker
    thread, where every forward pass runs too: one pass at a time, on :attr:`threads`
    torch threads. Concurrent calls are coalesced into shared passes (see
    :mod:`memcore_sentence_transformers._coalesce`).

    ``preloaded`` shares an already loaded model (tests, or several embedders in one
    process); it is not released by :meth:`aclose`.
    """

    backend = "local"

    def __init__(
        self,
        settings: LocalSettings | None = None,
        *,
        preloaded: SentenceTransformer | None = None,
    ) -> None:
        self.settings = settings if settings is not None else LocalSettings.load()
        self._model = preloaded
        self._path = None if preloaded is not None else _model_dir.resolve(self.settings.model_path)
        self._dimension = None if preloaded is None else _width(preloaded)
        self._load_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        self._last_probe: float | None = None  # monotonic time of the last successful probe
        self._coalescer = Coalescer(
            self._run_in_worker,
            max_batch=self.settings.max_batch,
            max_wait=self.settings.max_wait_ms / 1000,
        )

    @classmethod
    def from_settings(cls, settings: MemcoreSettings) -> LocalEmbedder:
        """Build from the ``local`` section of ``settings`` (``MEMCORE_LOCAL_*``)."""
        return cls(local_settings(settings))

    @property
    def model(self) -> str:
        if self.settings.model_name is not None:
            return self.settings.model_name
        if self._path is None:
            return _model_dir.BUNDLED_MODEL_NAME
        return _model_dir.default_name(self.settings.model_path, self._path)

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            # Read from the module configs so a store can be prepared before any weights
            # load; only an unusual module stack makes us load the model here.
            predicted = None if self._path is None else _model_dir.configured_dimension(self._path)
            self._dimension = predicted or _width(self._load())
        return self._dimension

    @property
    def threads(self) -> int:
        """Torch intra-op threads of a forward pass (``MEMCORE_LOCAL_THREADS``, default 1)."""
        return self.settings.threads or _runtime.DEFAULT_THREADS

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._model is not None

    async def warm_up(self) -> None:
        """Load the model now instead of on the first :meth:`embed`."""
        await self._in_worker(self._load)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return await self._coalescer.submit(texts)

    async def _run_in_worker(self, texts: list[str]) -> Vectors:
        return await self._in_worker(lambda: self._encode(texts))

    async def _in_worker(self, job: Callable[[], T]) -> T:
        if self._closed:
            raise EmbeddingError("the local embedder is closed", operation="embed", backend="local")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="memcore-local",
                initializer=_runtime.set_threads,
                initargs=(self.threads,),
            )
        return await asyncio.get_running_loop().run_in_executor(self._executor, job)

    def _load(self) -> SentenceTransformer:
        with self._load_lock:
            if self._model is not None:
                return self._model
            if self._path is None:  # a preloaded model, dropped by aclose()
                raise EmbeddingError(
                    "the local embedder is closed", operation="load", backend="local"
                )
            # At load time, not import time: never reach the Hub, even for a model
            # directory whose config names remote code or files.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer  # noqa: PLC0415

                with _runtime.quiet_load():
                    model = SentenceTransformer(
                        str(self._path), device=self.settings.device, local_files_only=True
                    )
            except ImportError as exc:
                raise EmbeddingError(
                    "sentence-transformers is not installed; "
                    "pip install 'agent-memcore-sentence-transformers'",
                    operation="load",
                    backend="local",
                ) from exc
            except Exception as exc:  # torch, transformers and safetensors raise many kinds
                raise EmbeddingError(
                    f"cannot load the model in {self._path} on {self.settings.device}: "
                    f"{type(exc).__name__}: {exc}",
                    operation="load",
                    backend="local",
                ) from exc
            actual = _width(model)
            if self._dimension is not None and actual != self._dimension:
                raise EmbeddingError(
                    f"the model in {self._path} gives {actual} dimensions, "
                    f"its configuration promised {self._dimension}",
                    operation="load",
                    backend="local",
                )
            self._model = model
            return model

    def _encode(self, texts: list[str]) -> Vectors:
        model = self._load()
        try:
            vectors = model.encode(
                texts,
                batch_size=self.settings.batch_size,
                normalize_embeddings=self.settings.normalize,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as exc:  # out of memory, device errors, tokenizer failures
            raise EmbeddingError(
                f"the local model failed: {type(exc).__name__}: {exc}",
                operation="embed",
                backend="local",
            ) from exc
        return np.ascontiguousarray(vectors, dtype=np.float32)

    async def health(self) -> HealthCheck:
        was_loaded = self.loaded
        facts: dict[str, str | int | float | bool] = {
            "backend": self.backend,
            "device": self.settings.device,
            "threads": self.threads,
            "loaded_before_check": was_loaded,
        }
        started = time.perf_counter()
        # A probe is a real forward pass; a recent successful one is trusted so that
        # frequent liveness checks stay cheap (a container probe may run every second).
        probe_age = None if self._last_probe is None else time.monotonic() - self._last_probe
        fresh = probe_age is not None and probe_age < self.settings.health_probe_interval_s
        probed = not (was_loaded and fresh)
        try:
            if not was_loaded:
                # Loading takes seconds, once: a fact of its own, not the embedder's latency.
                await self.warm_up()
                facts["model_load_ms"] = round((time.perf_counter() - started) * 1000, 3)
                started = time.perf_counter()
            if probed:
                await self.embed(["health check"])
                self._last_probe, probe_age = time.monotonic(), 0.0
        except EmbeddingError as exc:
            return HealthCheck(
                component="embedder",
                status=HealthStatus.UNHEALTHY,
                latency_ms=(time.perf_counter() - started) * 1000,
                detail=exc.message,
                facts=facts,
            )
        facts.update(
            model=self.model,
            dimension=self.dimension,
            probed=probed,
            probe_age_s=round(probe_age or 0.0, 6),
        )
        return HealthCheck(
            component="embedder",
            status=HealthStatus.HEALTHY,
            latency_ms=(time.perf_counter() - started) * 1000,
            detail=f"{self.model}, {self.dimension} dims on {self.settings.device}",
            facts=facts,
        )

    async def aclose(self) -> None:
        self._closed = True
        if self._executor is not None:
            # The worker finishes the pass it is running; queued passes are dropped.
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._model = None  # a preloaded model stays loaded for its owner


def _width(model: SentenceTransformer) -> int:
    width = model.get_embedding_dimension()
    if width is None:
        raise EmbeddingError(
            "the model does not state its embedding dimension", operation="load", backend="local"
        )
    return width
