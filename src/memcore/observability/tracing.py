"""OpenTelemetry spans around operations, when ``opentelemetry-api`` is installed.

Install the ``otel`` extra (``pip install 'agent-memcore[otel]'``) and configure an SDK in the
application; memcore then opens one span per service operation under the tracer
``memcore``. Until a tracer provider is set (without the package, or with no SDK
configured) no span is made: a call pays one check, and spans start within a second of
the SDK's configuration.
"""

from __future__ import annotations

import functools
import math
import time
from contextlib import AbstractContextManager, nullcontext
from importlib import import_module
from types import ModuleType
from typing import Any

__all__ = ["span", "tracer"]

_NO_SPAN: AbstractContextManager[None] = nullcontext()


@functools.cache
def _trace() -> ModuleType | None:
    try:
        return import_module("opentelemetry.trace")
    except ImportError:
        return None


class _Lookup:
    """The tracer once a provider is set; until then, looked for at most once a second
    (asking the API reads the environment: too slow for every operation).
    """

    LOOK_EVERY = 1.0

    def __init__(self) -> None:
        self.found: Any = None
        self.next_look = -math.inf

    def __call__(self) -> Any:
        if self.found is not None:
            return self.found  # a global provider, once set, stays
        now = time.monotonic()
        if now < self.next_look:
            return None
        self.next_look = now + self.LOOK_EVERY
        trace = _trace()
        if trace is None:
            self.next_look = math.inf  # not installed: nothing to look for again
            return None
        provider = trace.get_tracer_provider()
        if not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
            self.found = trace.get_tracer("memcore")
        return self.found


tracer = _Lookup()
"""``tracer()``: the ``memcore`` tracer, or ``None`` while no tracer provider is set (the
API's default provider is a proxy whose spans do nothing until an SDK replaces it)."""


def span(name: str, attributes: dict[str, str | int] | None = None) -> AbstractContextManager[Any]:
    """A current span called ``name`` (a no-op while tracing is not configured)."""
    found = tracer()
    if found is None:
        return _NO_SPAN
    manager: AbstractContextManager[Any] = found.start_as_current_span(name, attributes=attributes)
    return manager
