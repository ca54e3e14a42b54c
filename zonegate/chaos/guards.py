"""Guard evaluation: pure, on the growing request log, with an injected clock.

Values a guard reads from a running SLO engine (``source: slo_api``) are
fetched by the runner and passed in as ``external``; everything else comes
from the drill's own requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from zonegate.chaos.records import RequestRecord, percentile
from zonegate.chaos.spec.guards import (
    BurnRateGuard,
    ErrorBudgetGuard,
    ErrorRateGuard,
    Guard,
    LatencyGuard,
)
from zonegate.slo.budget import EventCounts, budget_consumed_between

#: Records are appended when a request completes; one that started this long
#: before a newer one may still be on its way, so windows look back this far.
LATENCY_SLACK_S = 30.0

ObjectiveOf = Callable[[str, float | None], tuple[float, float]]
"""``(slo name, override) -> (objective, SLO window in seconds)``."""


@dataclass(frozen=True)
class GuardTrip:
    t: float
    index: int
    kind: str
    value: float
    bound: float
    message: str

    def to_json(self) -> dict[str, object]:
        return {
            "at": round(self.t, 3),
            "guard": self.index,
            "kind": self.kind,
            "value": self.value,
            "bound": self.bound,
            "message": self.message,
        }


def recent(records: Sequence[RequestRecord], since: float, until: float) -> list[RequestRecord]:
    """Records started in ``[since, until)``, scanning back from the newest."""
    out = []
    for record in reversed(records):
        if record.t < since - LATENCY_SLACK_S:
            break
        if since <= record.t < until:
            out.append(record)
    return out


def error_ratio(records: Sequence[RequestRecord]) -> float | None:
    return sum(1 for r in records if r.failed) / len(records) if records else None


@dataclass(frozen=True)
class GuardReading:
    """A guard's current value (None: not enough data) and its bound."""

    value: float | None
    bound: float
    what: str


def read_guard(
    guard: Guard,
    records: Sequence[RequestRecord],
    now: float,
    method_start: float,
    objective_of: ObjectiveOf,
    external: float | None = None,
) -> GuardReading:
    if isinstance(guard, ErrorRateGuard):
        window = recent(records, now - guard.window_s, now)
        value = error_ratio(window) if len(window) >= guard.min_requests else None
        return GuardReading(value, guard.max, f"error rate over {guard.window_s:g}s")
    if isinstance(guard, LatencyGuard):
        window = recent(records, now - guard.window_s, now)
        value = (
            percentile([r.latency_ms for r in window], guard.percentile)
            if len(window) >= guard.min_requests
            else None
        )
        return GuardReading(value, guard.max_ms, f"p{guard.percentile:g} latency (ms)")
    objective, window_s = objective_of(guard.slo, guard.objective)
    if isinstance(guard, BurnRateGuard):
        if guard.source == "slo_api":
            return GuardReading(external, guard.max, f"{guard.slo} burn rate (SLO engine)")
        window = recent(records, now - guard.window_s, now)
        ratio = error_ratio(window) if len(window) >= guard.min_requests else None
        value = None if ratio is None else ratio / (1.0 - objective)
        return GuardReading(value, guard.max, f"{guard.slo} burn rate over {guard.window_s:g}s")
    assert isinstance(guard, ErrorBudgetGuard)
    what = f"{guard.slo} error budget consumed"
    if guard.source == "slo_api":
        return GuardReading(external, guard.max_consumed, what + " (SLO engine)")
    spent = recent(records, method_start, now)
    if not spent or now <= method_start:
        return GuardReading(None, guard.max_consumed, what)
    counts = EventCounts(float(sum(1 for r in spent if r.failed)), float(len(spent)))
    value = budget_consumed_between(counts, counts, objective, window_s, now - method_start)
    return GuardReading(value, guard.max_consumed, what)


class GuardBook:
    """Checks every guard; a guard trips once its value stayed above the bound ``for_s``."""

    def __init__(self, guards: Sequence[Guard], objective_of: ObjectiveOf) -> None:
        self.guards = list(guards)
        self.objective_of = objective_of
        self._above_since: dict[int, float] = {}
        self.last: dict[int, GuardReading] = {}

    def check(
        self,
        records: Sequence[RequestRecord],
        now: float,
        method_start: float,
        external: Mapping[int, float | None] | None = None,
    ) -> GuardTrip | None:
        external = external or {}
        for index, guard in enumerate(self.guards):
            reading = read_guard(
                guard, records, now, method_start, self.objective_of, external.get(index)
            )
            self.last[index] = reading
            if reading.value is None or reading.value <= reading.bound:
                self._above_since.pop(index, None)
                continue
            since = self._above_since.setdefault(index, now)
            if now - since >= guard.for_s:
                return GuardTrip(
                    t=now,
                    index=index,
                    kind=guard.kind,
                    value=reading.value,
                    bound=reading.bound,
                    message=(
                        f"guard {index} ({guard.kind}): {reading.what} {reading.value:.4g} "
                        f"> {reading.bound:g}" + (f" for {guard.for_s:g}s" if guard.for_s else "")
                    ),
                )
        return None
