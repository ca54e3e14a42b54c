"""Fold scraped counters of many targets into reset-adjusted running totals per series.

Each target's raw counters are differenced against the last value seen from
that target (a drop is a restart: the new value counts whole), and the
difference is added to the series with the per-target labels (``node``,
``instance``) removed. So totals only grow, nodes may restart, come and go,
and a node that disappears keeps what it contributed.

A series never seen before counts from zero when it was born after the
previous scrape (its ``_created`` timestamp says so, or the target was
scraped before and did not have it); otherwise its first value is a
baseline, as Prometheus' ``increase`` does. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zonegate import conventions as cv
from zonegate.slo.counters import adjusted_increase
from zonegate.slo.exposition import Labels, Sample, Wanted

PER_TARGET_LABELS = frozenset({cv.LABEL_NODE, "instance", "job"})
SeriesKey = tuple[str, Labels]


def aggregate_key(metric: str, labels: Labels) -> SeriesKey:
    return metric, tuple(kv for kv in labels if kv[0] not in PER_TARGET_LABELS)


def raw_key(metric: str, labels: Labels) -> str:
    return metric + "{" + ",".join(f"{k}={v}" for k, v in labels) + "}"


@dataclass
class CounterAggregator:
    """Running totals per aggregated series, and the last raw value per target series."""

    totals: dict[SeriesKey, float] = field(default_factory=dict)
    last_raw: dict[str, dict[str, float]] = field(default_factory=dict)
    """target -> raw series key -> last raw value"""

    def ingest(
        self,
        target: str,
        samples: Iterable[Sample],
        created: Mapping[tuple[str, Labels], float],
        previous_scrape: float | None,
        wanted: Wanted,
    ) -> tuple[set[SeriesKey], dict[str, float]]:
        """Add one scrape; return the aggregated series that changed and the raw values
        that changed (to persist)."""
        known = self.last_raw.get(target)
        seen_before = known is not None
        state = self.last_raw.setdefault(target, {})
        changed: set[SeriesKey] = set()
        raw_changed: dict[str, float] = {}
        for sample in samples:
            rkey = raw_key(sample.metric, sample.labels)
            last = state.get(rkey)
            if last is None:
                born = created.get(
                    (
                        wanted.created_name(sample.metric),
                        tuple(kv for kv in sample.labels if kv[0] != "le"),
                    )
                )
                new = (
                    born > previous_scrape
                    if born is not None and previous_scrape is not None
                    else seen_before
                )
                last = 0.0 if new else None
            delta = adjusted_increase(last, sample.value)
            if last is None or sample.value != last:
                state[rkey] = sample.value
                raw_changed[rkey] = sample.value
            key = aggregate_key(sample.metric, sample.labels)
            if key not in self.totals:
                self.totals[key] = 0.0
                changed.add(key)
            if delta > 0:
                self.totals[key] += delta
                changed.add(key)
        return changed, raw_changed
