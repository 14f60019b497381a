"""The parts of a health report the service adds to its ports' own checks.

The store and the embedder check themselves (``health()`` on each port); this module
guards those calls, checks that the embedder matches the store's schema, and gives the
report its JSON form.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from memcore.domain import EmbeddingSchema, HealthCheck, HealthReport, HealthStatus

__all__ = ["guarded_check", "health_to_dict", "schema_check"]


async def guarded_check(component: str, check: Awaitable[HealthCheck]) -> HealthCheck:
    """Await ``check``; a port that raises (against its contract) is reported unhealthy."""
    started = time.perf_counter()
    try:
        return await check
    except Exception as exc:  # noqa: BLE001 - a health probe must report, never raise
        return HealthCheck(
            component=component,
            status=HealthStatus.UNHEALTHY,
            latency_ms=(time.perf_counter() - started) * 1000,
            detail=f"health check raised {type(exc).__name__}",
        )


def schema_check(schema: EmbeddingSchema, *, started: bool, store: HealthCheck) -> HealthCheck:
    """Does the embedder's schema match the store's?

    Unhealthy when the store reports another schema (``facts`` ``dimension`` / ``model``
    that differ, or ``schema_matches`` false); degraded before ``start()`` checked it, or
    while the store was unavailable ever since (``schema_pending``).
    """
    facts: dict[str, str | int | float | bool] = {
        "dimension": schema.dimension,
        "model": schema.model,
    }
    stored = {key: store.facts[key] for key in ("dimension", "model") if key in store.facts}
    mismatched: dict[str, object] = {
        key: value for key, value in stored.items() if facts[key] != value
    }
    if store.facts.get("schema_matches") is False:  # a store that compares by itself
        mismatched["schema"] = "another schema"
    if mismatched:
        status = HealthStatus.UNHEALTHY
        detail = f"embedder gives {schema.describe()}, store holds " + ", ".join(
            f"{key} {value!r}" for key, value in mismatched.items()
        )
    elif store.facts.get("schema_pending"):
        status = HealthStatus.DEGRADED
        detail = f"{schema.describe()} (not checked: the store was unavailable since start)"
    elif started:
        status, detail = HealthStatus.HEALTHY, f"{schema.describe()} matches the store"
    else:
        status, detail = HealthStatus.DEGRADED, f"{schema.describe()} (not checked: not started)"
    return HealthCheck(
        component="schema", status=status, latency_ms=0.0, detail=detail, facts=facts
    )


def health_to_dict(report: HealthReport) -> dict[str, Any]:
    """The JSON form of a report (printed by ``memcore health --json``, served by /healthz)."""
    return {
        "status": report.status.value,
        "checks": [
            {
                "component": check.component,
                "status": check.status.value,
                "latency_ms": round(check.latency_ms, 3),
                "detail": check.detail,
                "facts": check.facts,
            }
            for check in report.checks
        ],
    }
