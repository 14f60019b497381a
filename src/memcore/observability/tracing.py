"""OpenTelemetry spans around operations, when ``opentelemetry-api`` is installed.

Install the ``otel`` extra (``pip install 'agent-memcore[otel]'``) and configure an SDK in the
application; memcore then opens one span per service operation under the tracer
``memcore``. Until a tracer provider is set (without the package, or with no SDK
configured) no span is made: a call pays one check.
"""

from __future__ import annotations

import functools
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


@functools.cache
def _tracer(trace: ModuleType) -> Any:
    return trace.get_tracer("memcore")


def tracer() -> Any:
    """The ``memcore`` tracer, or ``None`` while no tracer provider is set (its spans would
    be no-ops: the API's default provider is a proxy until an SDK replaces it).
    """
    trace = _trace()
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None
    return _tracer(trace)


def span(name: str, attributes: dict[str, str | int] | None = None) -> AbstractContextManager[Any]:
    """A current span called ``name`` (a no-op while tracing is not configured)."""
    found = tracer()
    if found is None:
        return _NO_SPAN
    manager: AbstractContextManager[Any] = found.start_as_current_span(name, attributes=attributes)
    return manager
