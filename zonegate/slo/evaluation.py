"""One evaluation step: window counts -> status, plus the alert state machines' moves."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from zonegate.slo.alerts import AlertState, AlertTracker, Transition, evaluate_rows
from zonegate.slo.budget import EventCounts
from zonegate.slo.counters import SummedSeries
from zonegate.slo.durations import parse_duration
from zonegate.slo.spec import SLOSpec
from zonegate.slo.status import SLOStatus, compute_status, window_burns, windows_needed
from zonegate.slo.windows import SEVERITIES, Severity


@dataclass
class AlertBook:
    """Every SLO's alert trackers, one per severity present in its window table."""

    trackers: dict[tuple[str, Severity], AlertTracker] = field(default_factory=dict)

    def _tracker(self, spec: SLOSpec, severity: Severity) -> AlertTracker:
        key = (spec.name, severity)
        if key not in self.trackers:
            keep = parse_duration(spec.alerting.keep_resolved)
            self.trackers[key] = AlertTracker(spec.name, severity, keep)
        return self.trackers[key]

    def step(
        self, spec: SLOSpec, now: float, counts: Mapping[int, EventCounts]
    ) -> list[Transition]:
        if not spec.alerting.enabled:
            return []
        burns = window_burns(spec, counts)
        out: list[Transition] = []
        for severity in SEVERITIES:
            rows = [w for w in spec.alerting.windows if w.severity == severity]
            if rows:
                moved = self._tracker(spec, severity).step(now, evaluate_rows(rows, burns))
                if moved is not None:
                    out.append(moved)
        return out

    def states(self, slo: str) -> dict[Severity, AlertState]:
        return {sev: t.state for (name, sev), t in self.trackers.items() if name == slo}

    def restore(self, spec: SLOSpec, last: Transition) -> None:
        self._tracker(spec, last.severity).restore(last.state, last.at, last.started_at)


def evaluate(
    spec: SLOSpec,
    book: AlertBook,
    now: float,
    counts: Mapping[int, EventCounts],
    covered_s: float,
) -> tuple[SLOStatus, list[Transition]]:
    """Advance ``spec``'s alerts to ``now`` and describe the SLO."""
    transitions = book.step(spec, now, counts)
    return compute_status(spec, now, counts, covered_s, book.states(spec.name)), transitions


@dataclass
class SeriesPair:
    """The bad and total events of one SLO as in-memory cumulative series."""

    bad: SummedSeries
    total: SummedSeries

    def counts(self, start: float, end: float) -> EventCounts:
        return EventCounts(self.bad.increase(start, end), self.total.increase(start, end))

    def window_counts(self, end: float, lengths: Sequence[int]) -> dict[int, EventCounts]:
        return {w: self.counts(end - w, end) for w in lengths}

    def covered(self, end: float) -> float:
        first = self.total.first_time
        return 0.0 if first is None else max(0.0, end - first)


def evaluate_memory(
    specs: Sequence[SLOSpec],
    series: Mapping[str, SeriesPair],
    book: AlertBook,
    clock: Callable[[], float],
) -> tuple[list[SLOStatus], list[Transition]]:
    """Evaluate every SLO against in-memory series at ``clock()`` (tests, bench)."""
    now = clock()
    statuses: list[SLOStatus] = []
    transitions: list[Transition] = []
    for spec in specs:
        pair = series[spec.name]
        status, moved = evaluate(
            spec, book, now, pair.window_counts(now, windows_needed(spec)), pair.covered(now)
        )
        statuses.append(status)
        transitions += moved
    return statuses, transitions
