"""Lock-free metric cells for the hot path, exposed through prometheus-client.

prometheus-client's own children take a lock and do argument checks on every
``inc``/``observe`` (about 1 us each). A node updates its request metrics only
from its event loop, so plain Python numbers are enough: a :class:`CounterCell`
is one attribute add, a :class:`HistogramCell` one ``bisect`` and two adds.
:class:`CounterFamily` and :class:`HistogramFamily` keep the cells of one metric
by label values and render them as prometheus-client metric families when the
registry is collected
(scrapes run on the same loop, so a scrape sees a consistent view).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString


def _le(bound: float) -> str:
    """The ``le`` label prometheus-client writes for a bound (``0.25``, ``1.0``, ``+Inf``)."""
    text: str = floatToGoString(bound)  # type: ignore[no-untyped-call]
    return text


class CounterCell:
    """A counter (or gauge) value; update ``value`` directly."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0


class HistogramCell:
    """Bucket counts (not cumulative; the last one is +Inf) and the sum of observations."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # ``le`` semantics: the first bound >= value.
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        total = 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += n
            out.append((_le(bound), float(total)))
        return out


class _Family:
    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)

    def _check(self, labelvalues: tuple[str, ...]) -> None:
        if len(labelvalues) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {labelvalues}")


class CounterFamily(_Family):
    """The cells of one counter (or, with ``gauge=True``, gauge), keyed by label values."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], *, gauge: bool = False
    ) -> None:
        super().__init__(name, documentation, labelnames)
        self.gauge = gauge
        self.cells: dict[tuple[str, ...], CounterCell] = {}

    def cell(self, *labelvalues: str) -> CounterCell:
        """The cell of these label values, created at zero on first use."""
        found = self.cells.get(labelvalues)
        if found is None:
            self._check(labelvalues)
            found = self.cells[labelvalues] = CounterCell()
        return found

    def family(self) -> Metric:
        labels = list(self.labelnames)
        metric: CounterMetricFamily | GaugeMetricFamily
        if self.gauge:
            metric = GaugeMetricFamily(self.name, self.documentation, labels=labels)
        else:
            metric = CounterMetricFamily(self.name, self.documentation, labels=labels)
        for values, cell in self.cells.items():
            metric.add_metric(list(values), cell.value)
        return metric


class HistogramFamily(_Family):
    """The cells of one histogram, keyed by label values."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> None:
        super().__init__(name, documentation, labelnames)
        self.buckets = tuple(sorted(buckets))
        self.cells: dict[tuple[str, ...], HistogramCell] = {}

    def cell(self, *labelvalues: str) -> HistogramCell:
        found = self.cells.get(labelvalues)
        if found is None:
            self._check(labelvalues)
            found = self.cells[labelvalues] = HistogramCell(self.buckets)
        return found

    def family(self) -> Metric:
        metric = HistogramMetricFamily(self.name, self.documentation, labels=list(self.labelnames))
        for values, cell in self.cells.items():
            metric.add_metric(list(values), cell.cumulative(), cell.sum)
        return metric
