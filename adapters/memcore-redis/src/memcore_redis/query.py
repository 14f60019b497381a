"""RediSearch query text for a user and a :class:`~memcore.SearchFilter`, and the KNN plan.

Tag values reach the query text only escaped (:func:`~memcore_redis.encoding.escape_tag`);
numbers are written by ``repr``, metadata equalities as digests.
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from numpy.typing import NDArray

from memcore.domain import RecordKind, SearchFilter
from memcore_redis.encoding import METADATA_TAGS, escape_tag, metadata_token, tag_value

DISTANCE = "__dist"
# A kind no record has: a filter no record of the kinds it names can meet.
_NO_KIND = "none"


def unexpired(prefilter: str) -> str:
    """``prefilter`` but records whose ``expires_at`` has passed (the server deletes an
    expired key, and the index its document, soon after, not at once).
    """
    return f"{prefilter} -@expires_at:[-inf {time.time()!r}]"


def filter_query(user_id: str, filters: SearchFilter) -> str:
    """The pre-filter for ``user_id``'s records matching ``filters``, as one conjunction."""
    clauses = [_tag("user_id", tag_value(user_id))]
    tags = dict(filters.tags)
    kinds = tags.pop("kind", None)
    # Only interventions have an outcome or a task, so a clause on either selects the kind
    # by itself; intersecting with every intervention as well cost 11% of a KNN at 100k.
    if "outcome" in tags or "task" in tags:
        if kinds is not None and RecordKind.INTERVENTION not in kinds:
            clauses.append(_tag("kind", _NO_KIND))
        kinds = None
    if kinds is not None:
        tags["kind"] = kinds
    clauses.extend(
        _tag(name, *sorted(tag_value(value) for value in values))
        for name, values in sorted(tags.items())
    )
    for name, (start, end) in filters.ranges.items():
        low = "-inf" if start is None else repr(start.timestamp())
        high = "+inf" if end is None else f"({end.timestamp()!r}"
        clauses.append(f"@{name}:[{low} {high}]")
    clauses.extend(
        _tag(METADATA_TAGS, metadata_token(k, v)) for k, v in sorted(filters.metadata.items())
    )
    return " ".join(clauses)


@functools.lru_cache(maxsize=4_096)
def _tag(field: str, *values: str) -> str:
    # Cached: searches repeat their clauses.
    return f"@{field}:{{{' | '.join(escape_tag(value) for value in values)}}}"


def knn_query(prefilter: str, policy: str | None) -> str:
    """``(<prefilter>)=>[KNN $k @vector $vec ...]``; ``policy`` None lets the server choose."""
    plan = ""
    if policy == "ADHOC_BF":
        plan = " HYBRID_POLICY ADHOC_BF"
    elif policy == "BATCHES":
        # No BATCH_SIZE / EF_RUNTIME: the server sizes batches from the filter's
        # selectivity, which measured faster and with better recall than fixed values.
        plan = " HYBRID_POLICY BATCHES"
    return f"({prefilter})=>[KNN $k @vector $vec{plan} AS {DISTANCE}]"


def knn_command(
    index: str,
    prefilter: str,
    policy: str | None,
    vector: NDArray[Any],
    k: int,
    *,
    returned: Sequence[str],
    dialect: int,
) -> list[Any]:
    """The ``FT.SEARCH`` of the ``k`` records nearest ``vector`` (unit length, the stored
    dtype) among those ``prefilter`` matches, with ``policy``'s plan, returning ``returned``
    and the distance.
    """
    params: list[Any] = ["k", k, "vec", vector.tobytes()]
    fields = [*returned, DISTANCE]
    return [
        "FT.SEARCH", index, knn_query(prefilter, policy), "PARAMS", len(params), *params,
        "SORTBY", DISTANCE, "ASC", "LIMIT", 0, k, "RETURN", len(fields), *fields,
        "DIALECT", dialect,
    ]  # fmt: skip


def list_command(
    index: str,
    query: str,
    limit: int,
    after: tuple[float, str] | None,
    *,
    load: Sequence[str],
    dialect: int,
) -> list[Any]:
    """The ``FT.AGGREGATE`` of the first ``limit`` records ``query`` matches, in
    ``(created_at, key)`` order, after ``(created_at, key)`` ``after`` if given, loading
    ``load`` and the key.
    """
    command: list[Any] = ["FT.AGGREGATE", index]
    if after is None:
        command += [query, "LOAD", 2, "@__key", "@created_at"]
    else:
        created, key = after
        command += [
            f"{query} @created_at:[{created!r} +inf]", "LOAD", 2, "@__key", "@created_at",
            "FILTER",
            f"@created_at > {created!r} || (@created_at == {created!r} && @__key > '{key}')",
        ]  # fmt: skip
    return [
        *command, "SORTBY", 4, "@created_at", "ASC", "@__key", "ASC", "MAX", limit,
        "LOAD", len(load), *load, "LIMIT", 0, limit, "DIALECT", dialect,
    ]  # fmt: skip


def count_command(index: str, prefilter: str) -> list[Any]:
    """The ``FT.SEARCH`` whose first reply item counts the records ``prefilter`` matches."""
    return ["FT.SEARCH", index, prefilter, "NOCONTENT", "LIMIT", 0, 0, "DIALECT", 2]


def indexed_command(index: str, keys: Sequence[str], *, count_only: bool) -> list[Any]:
    """Which of ``keys`` the index holds (RediSearch skips what it cannot index), or with
    ``count_only`` how many.
    """
    limit = 0 if count_only else len(keys)
    # "*": INKEYS does the narrowing, and the keys carry the user.
    return [
        "FT.SEARCH", index, "*", "NOCONTENT", "INKEYS", len(keys), *keys,
        "LIMIT", 0, limit, "DIALECT", 2,
    ]  # fmt: skip


@dataclass
class _Estimate:
    candidates: int
    measured_at: float


class Planner:
    """Chooses how a filtered KNN runs, from how many records the pre-filter matches.

    Brute force (``ADHOC_BF``) is exact and costs time in proportion to the candidates;
    walking the HNSW graph in batches (``BATCHES``) costs time in proportion to how rare
    the candidates are in the whole index. RediSearch's own guess brute-forces too long:
    at 100k records and 5k per user it is several times slower than batches. So memcore
    brute-forces up to ``adhoc_max`` candidates and uses batches beyond.

    Counts come from a ``LIMIT 0 0`` count the store sends in the background after a
    search, once per ``ttl`` seconds per pre-filter; until one arrives the server decides.
    """

    def __init__(self, mode: str, adhoc_max: int, ttl: float = 30.0, capacity: int = 4_096) -> None:
        self._mode = mode
        self._adhoc_max = adhoc_max
        self._ttl = ttl
        self._capacity = capacity
        self._estimates: OrderedDict[str, _Estimate] = OrderedDict()

    def choose(self, prefilter: str) -> str | None:
        """The policy for ``prefilter``: ``ADHOC_BF``, ``BATCHES``, or None for the server's."""
        if self._mode == "adhoc_bf":
            return "ADHOC_BF"
        if self._mode == "batches":
            return "BATCHES"
        estimate = self._estimates.get(prefilter)
        if self._mode == "server" or estimate is None:
            return None
        return "ADHOC_BF" if estimate.candidates <= self._adhoc_max else "BATCHES"

    def wants_count(self, prefilter: str) -> bool:
        """Whether ``prefilter``'s count is missing or older than ``ttl`` (``auto`` only)."""
        if self._mode != "auto":
            return False
        estimate = self._estimates.get(prefilter)
        return estimate is None or time.monotonic() - estimate.measured_at > self._ttl

    def learn(self, prefilter: str, candidates: int) -> None:
        """Remember how many records ``prefilter`` matched just now."""
        self._estimates[prefilter] = _Estimate(candidates, time.monotonic())
        self._estimates.move_to_end(prefilter)
        while len(self._estimates) > self._capacity:
            self._estimates.popitem(last=False)
