"""Health of a Redis store: reachable, modules loaded, index whole, schema as expected.

``unhealthy``: the server does not answer, the search module or the index is missing.
``degraded``: it answers, but documents failed to index, the index is still being built,
the stored schema differs from this store's, or ``ensure_schema`` was not called yet.
Never raises for a sick backend: every failure becomes part of the report.

A check is one pipelined round trip (PING, INFO memory, MODULE LIST, the schema key and
a search that matches nothing, which fails if the index is gone). ``FT.INFO``, which
walks the whole index (tens of milliseconds at 100k records), joins it only when its last
answer is older than ``index_info_interval`` seconds, or when that answer showed a
problem, which is then looked at on every check. ``num_docs`` comes from ``FT.INFO``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from memcore.domain import EmbeddingSchema, HealthCheck, HealthStatus
from memcore.errors import MemcoreError
from memcore_redis.commands import round_trip
from memcore_redis.errors import BACKEND, map_redis_errors
from memcore_redis.layout import VectorSpec
from memcore_redis.schema import JSON_MODULE, SEARCH_MODULE, IndexInfo, SchemaKeeper

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


@dataclass
class HealthProbe:
    """Checks one store's server, index and schema."""

    client: Redis
    index: str
    keeper: SchemaKeeper
    index_info_interval: float = 30.0
    _info: IndexInfo | None = None
    _info_at: float = float("-inf")

    async def check(
        self, ensured: tuple[EmbeddingSchema, VectorSpec] | None, *, closed: bool
    ) -> HealthCheck:
        """One report; ``ensured`` is what ``ensure_schema`` settled, if it ran."""
        started = time.perf_counter()
        report = _Report({"backend": BACKEND, "index": self.index})
        if closed:
            return _check(HealthStatus.UNHEALTHY, started, "store is closed", report.facts)
        commands: list[tuple[Any, ...]] = [
            ("PING",),
            ("INFO", "memory", "stats"),
            ("MODULE", "LIST"),
            ("GET", self.keeper.meta_key),
            # No record has this kind token: an O(1) proof that the index exists (a
            # wildcard count would walk every document).
            ("FT.SEARCH", self.index, "@kind:{kn}", "NOCONTENT", "LIMIT", 0, 0, "DIALECT", 2),
        ]
        if self._info_due():
            commands.append(("FT.INFO", self.index))
        try:
            with map_redis_errors("health"):
                replies = await round_trip(self.client, commands, raise_errors=False)
        except MemcoreError as exc:
            return _check(HealthStatus.UNHEALTHY, started, exc.message, report.facts)
        report.facts["ping_ms"] = round((time.perf_counter() - started) * 1000, 3)
        memory, modules, meta, found, *info = replies[1:]
        report.facts["used_memory"] = _info_field(memory, "used_memory")
        report.facts["expired"] = _info_field(memory, "expired_keys")  # the server's, in all
        if self._modules(report, modules):
            self._index(report, found, info[0] if info else None)
        self._schema(report, ensured, meta)
        detail = "; ".join(text for _, text in report.problems) or "ok"
        return _check(report.status(), started, detail, report.facts)

    def _info_due(self) -> bool:
        healthy = self._info is not None and not self._info.problems()
        return not healthy or time.monotonic() - self._info_at > self.index_info_interval

    def _modules(self, report: _Report, reply: Any) -> bool:
        """Record module versions; False if the search module is known to be missing."""
        if isinstance(reply, ResponseError):  # managed services may forbid MODULE LIST
            return True
        versions = {_text(m[m.index(b"name") + 1]): int(m[m.index(b"ver") + 1]) for m in reply}
        for module, fact in ((SEARCH_MODULE, "search_version"), (JSON_MODULE, "json_version")):
            if module in versions:
                report.facts[fact] = versions[module]
        if SEARCH_MODULE not in versions:
            report.problems.append((True, "RediSearch module not loaded"))
            return False
        return True

    def _index(self, report: _Report, found: Any, info_reply: Any) -> None:
        if isinstance(found, ResponseError):
            self._info = None
            report.problems.append((True, f"index {self.index!r} does not exist"))
            return
        if info_reply is not None and not isinstance(info_reply, ResponseError):
            self._info, self._info_at = IndexInfo.parse(info_reply), time.monotonic()
        if self._info is None:
            return
        report.facts["num_docs"] = self._info.num_docs
        report.facts["indexing_failures"] = self._info.indexing_failures
        report.facts["percent_indexed"] = self._info.percent_indexed
        report.facts["index_info_age_s"] = round(time.monotonic() - self._info_at, 3)
        report.problems.extend((False, problem) for problem in self._info.problems())

    def _schema(
        self, report: _Report, ensured: tuple[EmbeddingSchema, VectorSpec] | None, meta: Any
    ) -> None:
        if ensured is None:
            report.problems.append((False, "ensure_schema() not called"))
            return
        stored = None if meta is None or isinstance(meta, ResponseError) else json.loads(meta)
        matches = stored == self.keeper.expected_meta(*ensured)
        report.facts["schema_matches"] = matches
        if not matches:
            report.problems.append((False, "stored schema differs from this store's"))


def _info_field(info: Any, name: str) -> int:
    """The number ``name`` from a raw ``INFO`` reply (0 if absent)."""
    for line in _text(info).splitlines():
        if line.startswith(f"{name}:"):
            return int(line.partition(":")[2])
    return 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _check(status: HealthStatus, started: float, detail: str, facts: Facts) -> HealthCheck:
    return HealthCheck(
        component="store",
        status=status,
        latency_ms=(time.perf_counter() - started) * 1000,
        detail=detail,
        facts=facts,
    )
