"""OpenTelemetry spans around operations, when ``opentelemetry-api`` is installed.

Install the ``otel`` extra (``pip install 'agent-memcore[otel]'``) and configure an SDK in the
application; memcore then opens one span per service operation under the tracer
``memcore``. Without the package every span is a no-op costing one function call.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager, nullcontext
from importlib import import_module
from typing import Any

__all__ = ["span"]

_NO_SPAN: AbstractContextManager[None] = nullcontext()


@functools.cache
def _tracer() -> Any:
    try:
        trace = import_module("opentelemetry.trace")
    except ImportError:
        return None
    return trace.get_tracer("memcore")


def span(name: str, attributes: dict[str, str | int] | None = None) -> AbstractContextManager[Any]:
    """A current span called ``name`` (or a no-op without OpenTelemetry)."""
    tracer = _tracer()
    if tracer is None:
        return _NO_SPAN
    manager: AbstractContextManager[Any] = tracer.start_as_current_span(name, attributes=attributes)
    return manager
