"""What single steps of the hot paths cost on a warm cache: the query checks of a search,
the encoding of a record for a Redis hash, the decoding of a search hit per layout, and
the ranking of ``what_worked``.

Each figure is the fastest of ``--repeat`` runs of ``--number`` calls (``timeit``), in
microseconds a call: what the code costs at best, without the Redis server. In place,
between real store calls, each costs several times more (a colder cache); the
``--steps`` table of ``bench_pipeline.py`` measures that.

    python benchmarks/bench_micro.py [--number 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import orjson

from memcore import Intervention, Outcome
from memcore.domain import RecordKind, SearchHit
from memcore.domain.worked import rank_worked
from memcore.limits import Limits
from memcore.settings import WhatWorkedSettings
from memcore.validation import unit_vector, validate_filters
from memcore_redis.documents import hash_fields, json_document, record_from_fields
from memcore_redis.layout import HashLayout, JsonLayout, Layout
from memcore_redis.query import DISTANCE
from memcore_redis.replies import hit

DIMENSION = 384
CANDIDATES, TASKS, K = 20, 7, 5
INTERVENTIONS = frozenset({RecordKind.INTERVENTION})
OUTCOMES = [Outcome.TASK_COMPLETED, Outcome.USER_ENGAGED, Outcome.NO_RESPONSE]
NOW = datetime(2026, 12, 5, 12, tzinfo=timezone.utc)


def intervention(i: int) -> Intervention:
    """A stored intervention with the fields a coaching agent sets."""
    return Intervention(
        id=f"r{i:04d}",
        user_id="José Pérez",
        intervention_text=f"Let's try box breathing, round {i}: in for four, hold for four.",
        context="before a hard meeting, says they feel anxious",
        task=f"task_{i % TASKS}",
        outcome=OUTCOMES[i % len(OUTCOMES)],
        metadata={"channel": "voice", "minutes": 3},
        created_at=NOW - timedelta(days=i),
    )


def hash_row(record: Intervention) -> dict[bytes, Any]:
    """The row an ``FT.SEARCH`` of interventions gives for ``record`` on a hash: the
    returned fields' stored bytes and the distance.
    """
    flat = hash_fields(record)
    stored = dict(zip(flat[::2], flat[1::2], strict=True))
    row = {
        name.encode(): value if isinstance(value, bytes) else str(value).encode()
        for name in HashLayout().returned(INTERVENTIONS)
        if (value := stored.get(name)) is not None
    }
    return {**row, DISTANCE.encode(): b"0.12"}


def json_row(record: Intervention) -> dict[bytes, Any]:
    """The same row on JSON: each returned path's matches as a JSON array (dialect 3)."""
    document = json_document(record)
    names = JsonLayout().returned(INTERVENTIONS)[2::3]
    row = {name.encode(): orjson.dumps([document[name]]) for name in names if name in document}
    return {**row, DISTANCE.encode(): b"0.12"}


def decoding(layout: Layout, row: dict[bytes, Any]) -> Callable[[], object]:
    """One hit read back as the store reads it: the layout's fields, the record, the score."""
    stored = layout.stored

    def decode() -> object:
        return hit(record_from_fields("José Pérez", "r0001", stored(row)), row)

    return decode


def steps() -> dict[str, Callable[[], object]]:
    rng = np.random.default_rng(7)
    query = rng.standard_normal(DIMENSION).astype(np.float32)
    query /= np.linalg.norm(query)
    limits = Limits()
    filters = {"outcome": Outcome.TASK_COMPLETED.value}
    record = intervention(1)
    matches = [SearchHit(intervention(i), 0.9 - i / 100) for i in range(CANDIDATES)]
    weights = WhatWorkedSettings().outcome_weights
    hash_hit, json_hit = (
        decoding(HashLayout(), hash_row(record)),
        decoding(JsonLayout(), json_row(record)),
    )
    for decode in (hash_hit, json_hit):
        assert decode() == SearchHit(record, 0.88), "a row reads back as the record it was"
    return {
        "unit_vector: a unit query's check": lambda: unit_vector(query, DIMENSION),
        "validate_filters: one outcome": lambda: validate_filters(
            filters, limits, kind=RecordKind.INTERVENTION
        ),
        "hash_fields: a record's hash": lambda: hash_fields(record),
        "one hit read back, hash": hash_hit,
        "one hit read back, JSON": json_hit,
        f"rank_worked: {CANDIDATES} candidates of {TASKS} tasks, k {K}": lambda: rank_worked(
            matches, k=K, weights=weights, half_life=None, now=NOW
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=20_000, help="Calls a run.")
    parser.add_argument("--repeat", type=int, default=5, help="Runs; the fastest counts.")
    args = parser.parse_args()
    lines = ["| step | µs a call (fastest run) |", "|---|---|"]
    for name, step in steps().items():
        best = min(timeit.Timer(step).repeat(repeat=args.repeat, number=args.number))
        lines.append(f"| {name} | {best / args.number * 1e6:.2f} |")
    print(f"{args.repeat} runs of {args.number:,} calls each, dimension {DIMENSION}\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
