"""The service over the resilience layers: deferred writes, degraded reads, rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from flaky_store import FlakyEmbedder, FlakyStore

from memcore import (
    EmbeddingUnavailableError,
    MemoryService,
    RateLimitedError,
    SearchResults,
    Status,
)
from memcore.adapters.hashing import HashingEmbedder
from memcore.domain import HealthStatus
from memcore.observability import Metrics, Telemetry
from memcore.resilience import (
    BreakerConfig,
    BreakerPolicy,
    CircuitBreaker,
    DegradationPolicy,
    InProcessRateLimiter,
    Outbox,
    Rate,
    RateLimitPolicy,
    RateLimits,
)


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


@pytest.fixture
async def flaky() -> FlakyStore:
    return FlakyStore()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def memory(flaky: FlakyStore, metrics: Metrics) -> AsyncIterator[MemoryService]:
    breaker = CircuitBreaker(
        "store",
        BreakerConfig(min_calls=2, open_for=0.05),
        on_change=metrics.breaker_listener("flaky"),
    )
    outbox = Outbox()
    outbox.on_event = metrics.watch_outbox(outbox)
    degradation = DegradationPolicy(
        outbox, backend="flaky", replay_interval=0, on_degraded_read=metrics.degraded_read
    )
    service = MemoryService(
        flaky,
        HashingEmbedder(dimension=8),
        policies=[degradation, BreakerPolicy("store", breaker, backend="flaky")],
        telemetry=Telemetry(metrics),
    )
    async with service:
        yield service


async def test_the_agent_keeps_talking_through_an_outage(
    flaky: FlakyStore, memory: MemoryService, metrics: Metrics
) -> None:
    await memory.record_intervention("u", "before the outage", task="calm", id="a")
    flaky.down = True
    receipt = await memory.record_intervention("u", "during the outage", task="calm", id="b")
    hits = await memory.search_interventions("u", "outage")
    assert (receipt.id, receipt.status) == ("b", Status.DEFERRED)
    assert isinstance(hits, SearchResults)
    assert hits == []
    assert hits.degraded
    report = await memory.health()
    assert report.status is HealthStatus.DEGRADED
    assert _sample(metrics, "memcore_breaker_state", breaker="store", backend="flaky") == 2
    assert _sample(metrics, "memcore_outbox_waiting_records") == 1
    flaky.down = False
    await asyncio.sleep(0.06)  # the breaker's open_for: the next call probes and replays
    hits = await memory.search_interventions("u", "outage", k=5)
    assert not hits.degraded
    assert sorted(hit.record.id for hit in hits) == ["a", "b"]
    assert (await memory.health()).status is HealthStatus.HEALTHY
    ops = "memcore_operations_total"
    labels = {"backend": "flaky"}
    assert _sample(metrics, ops, operation="record_intervention", status="deferred", **labels) == 1
    assert _sample(metrics, ops, operation="search_interventions", status="degraded", **labels) == 1
    assert _sample(metrics, "memcore_outbox_records_total", event="replayed") == 1
    assert _sample(metrics, "memcore_degraded_reads_total", operation="search") == 1


async def test_rate_limits_per_user(metrics: Metrics) -> None:
    limits = RateLimits(
        InProcessRateLimiter(), per_user=Rate(per_second=0.001, burst=2), on_limited=metrics.limited
    )
    async with MemoryService(
        FlakyStore(), HashingEmbedder(dimension=8), policies=[RateLimitPolicy(limits)]
    ) as memory:
        await memory.record_intervention("alice", "one", task="t")
        await memory.search_interventions("alice", "one")
        with pytest.raises(RateLimitedError) as refused:
            await memory.stats("alice")
        assert refused.value.retry_after > 100
        assert await memory.forget_user("bob") == 0  # bob has his own bucket
        with pytest.raises(RateLimitedError):
            await memory.get_many("alice", [])
    assert _sample(metrics, "memcore_rate_limited_total", operation="stats") == 1


@pytest.mark.parametrize("degrade", [True, False])
async def test_a_search_while_the_embedder_is_away(degrade: bool) -> None:
    embedder = FlakyEmbedder()
    async with MemoryService(FlakyStore(), embedder, degrade_searches=degrade) as memory:
        await memory.record_intervention("u", "remember this", task="t")
        embedder.down = True
        if not degrade:
            with pytest.raises(EmbeddingUnavailableError):
                await memory.search_interventions("u", "remember")
            return
        hits = await memory.search_reflections("u", "remember")
        assert (hits, hits.status) == ([], Status.DEGRADED)
        with pytest.raises(EmbeddingUnavailableError):  # writes must embed: they still raise
            await memory.record_intervention("u", "another", task="t")
        vector = await embedder.inner.embed(["remember this"])
        found = await memory.search_interventions("u", vector[0])  # precomputed: no embedder
        assert [hit.record.intervention_text for hit in found] == ["remember this"]
