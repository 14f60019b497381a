"""The per-call metrics (operation counts and latencies) as plain counts, exported by a
prometheus_client ``Collector`` when scraped.

prometheus_client's ``Histogram.observe`` walks its buckets in Python and takes a lock per
value it touches; a service operation and each of its store calls record one sample
each, so that work was on every call. Here a sample is one ``bisect`` and one lock, and
the exposition is the same as prometheus_client's own ``Counter`` and ``Histogram`` (the
same sample names, labels, ``le`` values and ``_created`` series).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar, cast

from prometheus_client import metrics as client_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = ["CountFamily", "LatencyFamily", "PerCallMetrics"]


class _Child:
    """One set of label values: its running total and when it was made."""

    __slots__ = ("created", "lock", "total")

    def __init__(self) -> None:
        self.total = 0.0
        self.created = time.time()
        self.lock = threading.Lock()


class CountedChild(_Child):
    """A counter of one set of label values."""

    __slots__ = ()

    def inc(self, amount: float = 1) -> None:
        with self.lock:
            self.total += amount


class LatencyChild(_Child):
    """A histogram of one set of label values: a count per bucket (then ``+Inf``)."""

    __slots__ = ("bounds", "counts")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        super().__init__()
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)

    def observe(self, seconds: float) -> None:
        slot = bisect.bisect_left(self.bounds, seconds)  # the first bound >= seconds: "le"
        with self.lock:
            self.counts[slot] += 1
            self.total += seconds


ChildT = TypeVar("ChildT", bound=_Child)

# prometheus_client's own rendering of a bucket bound ("0.0005", "1.0"), untyped there.
_le = cast("Callable[[float], str]", floatToGoString)


class _Family(Generic[ChildT]):
    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], ChildT] = {}
        self._lock = threading.Lock()

    def _items(self) -> list[tuple[dict[str, str], ChildT]]:
        with self._lock:
            children = list(self._children.items())
        return [(dict(zip(self.labelnames, values, strict=True)), c) for values, c in children]


class CountFamily(_Family[CountedChild]):
    """A counter by labels (what ``prometheus_client.Counter`` exports)."""

    def labels(self, *values: str) -> CountedChild:
        """The child of these label values, made on first use (keep it: it is the fast path)."""
        with self._lock:
            child = self._children.get(values)
            if child is None:
                child = self._children[values] = CountedChild()
        return child

    def collect(self) -> Metric:
        metric = Metric(self.name, self.documentation, "counter")
        for labels, child in self._items():
            with child.lock:
                total = child.total
            metric.add_sample(f"{self.name}_total", labels, total)
            if client_metrics._use_created:  # noqa: SLF001 - prometheus_client's own switch
                metric.add_sample(f"{self.name}_created", labels, child.created)
        return metric


class LatencyFamily(_Family[LatencyChild]):
    """A histogram by labels (what ``prometheus_client.Histogram`` exports)."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> None:
        super().__init__(name, documentation, labelnames)
        self.bounds = tuple(float(bound) for bound in buckets)
        self._les = [*(_le(bound) for bound in self.bounds), "+Inf"]

    def labels(self, *values: str) -> LatencyChild:
        """The child of these label values, made on first use (keep it: it is the fast path)."""
        with self._lock:
            child = self._children.get(values)
            if child is None:
                child = self._children[values] = LatencyChild(self.bounds)
        return child

    def collect(self) -> Metric:
        metric = Metric(self.name, self.documentation, "histogram")
        for labels, child in self._items():
            with child.lock:
                counts, total = list(child.counts), child.total
            cumulative = 0
            for le, count in zip(self._les, counts, strict=True):
                cumulative += count
                metric.add_sample(f"{self.name}_bucket", {**labels, "le": le}, cumulative)
            metric.add_sample(f"{self.name}_count", labels, cumulative)
            metric.add_sample(f"{self.name}_sum", labels, total)
            if client_metrics._use_created:  # noqa: SLF001 - prometheus_client's own switch
                metric.add_sample(f"{self.name}_created", labels, child.created)
        return metric


class PerCallMetrics(Collector):
    """The families recorded on every call, collected together."""

    def __init__(self, *families: CountFamily | LatencyFamily) -> None:
        self.families = families

    def describe(self) -> list[Metric]:
        return [Metric(f.name, f.documentation, _type(f)) for f in self.families]

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield family.collect()


def _type(family: CountFamily | LatencyFamily) -> str:
    return "counter" if isinstance(family, CountFamily) else "histogram"
