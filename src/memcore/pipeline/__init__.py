"""The policy pipeline: every call a service makes, as a :class:`Call` through policies.

- :mod:`.call`: :class:`Call`, :class:`Result` and :class:`Policy`.
- :mod:`.ports`: the store and embedder ports as calls (their method lists, once).
- :mod:`.chain`: :class:`Pipeline`, the ordered policy list, and the fronts it builds.

See ``docs/architecture.md`` ("The pipeline") for the order and why.
"""

from memcore.pipeline.call import DETOUR, Call, Handler, InlinePolicy, Policy, Port, Result
from memcore.pipeline.chain import EmbedderFront, Pipeline, StoreFront
from memcore.pipeline.ports import (
    STORE_OPERATIONS,
    EmbedderCalls,
    StoreCalls,
    StoreOperation,
    embedder_terminal,
    store_terminal,
    store_terminals,
)

__all__ = [
    "DETOUR",
    "STORE_OPERATIONS",
    "Call",
    "EmbedderCalls",
    "EmbedderFront",
    "Handler",
    "InlinePolicy",
    "Pipeline",
    "Policy",
    "Port",
    "Result",
    "StoreCalls",
    "StoreFront",
    "StoreOperation",
    "embedder_terminal",
    "store_terminal",
    "store_terminals",
]
