"""Spans: none while no tracer provider is set, one per operation once one is."""

from __future__ import annotations

import subprocess
import sys

# In a process of its own: a global tracer provider can be set only once per process.
SCRIPT = """
import asyncio
from opentelemetry import trace
from memcore.adapters.hashing import HashingEmbedder
from memcore.adapters.memory import InMemoryStore
from memcore.observability import tracing
from memcore.service import MemoryService

names = []

class Recording(trace.NoOpTracer):
    def start_as_current_span(self, name, *args, **kwargs):
        names.append((name, kwargs.get("attributes")))
        return super().start_as_current_span(name, *args, **kwargs)

class Provider(trace.TracerProvider):
    def get_tracer(self, *args, **kwargs):
        return Recording()

async def main():
    tracing.tracer.LOOK_EVERY = 0  # look on every call (a second apart otherwise)
    async with MemoryService(InMemoryStore(), HashingEmbedder(16)) as service:
        await service.search_interventions("u", "before")
        trace.set_tracer_provider(Provider())
        await service.search_interventions("u", "after")
    print(names)

asyncio.run(main())
"""


def test_spans_open_only_once_a_tracer_provider_is_set() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    spans = [("memcore.search_interventions", {"memcore.backend": "memory"})]
    assert done.stdout.strip() == repr(spans)
