"""Health of a Redis store: reachable, modules loaded, index whole, schema as expected.

``unhealthy``: the server does not answer, the search module or the index is missing.
``degraded``: it answers, but documents failed to index, the index is still being built,
the stored schema differs from this store's, or ``ensure_schema`` was not called yet.
Never raises for a sick backend: every failure becomes part of the report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from redis.asyncio import Redis

from memcore.domain import EmbeddingSchema, HealthCheck, HealthStatus
from memcore.errors import MemcoreError
from memcore_redis.errors import BACKEND, map_redis_errors
from memcore_redis.layout import VectorSpec
from memcore_redis.schema import (
    JSON_MODULE,
    SEARCH_MODULE,
    SchemaKeeper,
    index_info,
    module_versions,
)

Facts = dict[str, str | int | float | bool]


@dataclass
class _Report:
    """What the probes found: facts, and problems as ``(fatal, text)``."""

    facts: Facts
    problems: list[tuple[bool, str]] = field(default_factory=list)

    def status(self) -> HealthStatus:
        if any(fatal for fatal, _ in self.problems):
            return HealthStatus.UNHEALTHY
        return HealthStatus.DEGRADED if self.problems else HealthStatus.HEALTHY


@dataclass(frozen=True)
class HealthProbe:
    """Checks one store's server, index and schema."""

    client: Redis
    index: str
    keeper: SchemaKeeper

    async def check(
        self, ensured: tuple[EmbeddingSchema, VectorSpec] | None, *, closed: bool
    ) -> HealthCheck:
        """One report; ``ensured`` is what ``ensure_schema`` settled, if it ran."""
        started = time.perf_counter()
        report = _Report({"backend": BACKEND, "index": self.index})
        if closed:
            return _check(HealthStatus.UNHEALTHY, started, "store is closed", report.facts)
        try:
            with map_redis_errors("health"):
                await self.client.ping()
                report.facts["ping_ms"] = round((time.perf_counter() - started) * 1000, 3)
                memory = await self.client.info("memory")
            report.facts["used_memory"] = int(memory.get("used_memory", 0))
            if await self._modules(report):
                await self._index(report)
            await self._schema(report, ensured)
        except MemcoreError as exc:
            return _check(HealthStatus.UNHEALTHY, started, exc.message, report.facts)
        detail = "; ".join(text for _, text in report.problems) or "ok"
        return _check(report.status(), started, detail, report.facts)

    async def _modules(self, report: _Report) -> bool:
        """Record module versions; False if the search module is known to be missing."""
        versions = await module_versions(self.client, "health")
        if versions is None:
            return True
        for module, fact in ((SEARCH_MODULE, "search_version"), (JSON_MODULE, "json_version")):
            if module in versions:
                report.facts[fact] = versions[module]
        if SEARCH_MODULE not in versions:
            report.problems.append((True, "RediSearch module not loaded"))
            return False
        return True

    async def _index(self, report: _Report) -> None:
        info = await index_info(self.client, self.index, "health")
        if info is None:
            report.problems.append((True, f"index {self.index!r} does not exist"))
            return
        report.facts["num_docs"] = info.num_docs
        report.facts["indexing_failures"] = info.indexing_failures
        report.facts["percent_indexed"] = info.percent_indexed
        if info.indexing_failures:
            report.problems.append((False, f"{info.indexing_failures} documents failed to index"))
        if info.percent_indexed < 1:
            report.problems.append((False, f"index {info.percent_indexed:.0%} built"))

    async def _schema(
        self, report: _Report, ensured: tuple[EmbeddingSchema, VectorSpec] | None
    ) -> None:
        if ensured is None:
            report.problems.append((False, "ensure_schema() not called"))
            return
        stored = await self.keeper.stored_meta()
        matches = stored == self.keeper.expected_meta(*ensured)
        report.facts["schema_matches"] = matches
        if not matches:
            report.problems.append((False, "stored schema differs from this store's"))


def _check(status: HealthStatus, started: float, detail: str, facts: Facts) -> HealthCheck:
    return HealthCheck(
        component="store",
        status=status,
        latency_ms=(time.perf_counter() - started) * 1000,
        detail=detail,
        facts=facts,
    )
