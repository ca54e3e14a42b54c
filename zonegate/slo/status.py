"""Everything an SRE wants to know about one SLO at one instant, from window counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from zonegate.slo.alerts import AlertState, WindowBurn
from zonegate.slo.budget import Budget, EventCounts, burn_rate, error_budget, time_to_exhaustion
from zonegate.slo.durations import format_duration
from zonegate.slo.spec import SLOSpec
from zonegate.slo.windows import SEVERITIES, Severity, window_lengths

Health = Literal["ok", "warning", "critical", "no_data"]
WARN_REMAINING = 0.25
"""below this fraction of budget left the SLO shows as warning"""


def windows_needed(spec: SLOSpec) -> list[int]:
    """Every window length (seconds) the status of ``spec`` needs, the SLO window last."""
    return [*window_lengths(spec.alerting.windows), spec.window_s]


@dataclass(frozen=True)
class SLOStatus:
    name: str
    service: str
    objective: float
    window_s: int
    at: float
    counts: EventCounts
    budget: Budget
    burns: tuple[WindowBurn, ...]
    current_burn: float | None
    time_to_exhaustion_s: float | None
    enough_data: bool
    alerts: Mapping[Severity, AlertState] = field(default_factory=dict)

    @property
    def sli(self) -> float | None:
        return self.counts.sli

    @property
    def fastest(self) -> WindowBurn | None:
        """The alert window burning fastest (among those with enough data)."""
        usable = [b for b in self.burns if b.enough_data and b.burn_rate is not None]
        return max(usable, key=lambda b: b.burn_rate or 0.0, default=None)

    @property
    def health(self) -> Health:
        if self.counts.total <= 0:
            return "no_data"
        if self.alerts.get("page") == AlertState.FIRING or self.budget.remaining <= 0:
            return "critical"
        pending = any(s in (AlertState.PENDING, AlertState.FIRING) for s in self.alerts.values())
        if pending or self.budget.remaining < WARN_REMAINING:
            return "warning"
        return "ok"

    def to_json(self) -> dict[str, Any]:
        fastest = self.fastest
        return {
            "name": self.name,
            "service": self.service,
            "at": self.at,
            "objective": self.objective,
            "window": format_duration(self.window_s),
            "sli": self.sli,
            "health": self.health,
            "enough_data": self.enough_data,
            "events": {"bad": self.counts.bad, "total": self.counts.total},
            "budget": {
                "total_ratio": self.budget.budget_ratio,
                "consumed": self.budget.consumed,
                "remaining": self.budget.remaining,
                "total_minutes": self.budget.total_minutes,
                "consumed_minutes": self.budget.consumed_minutes,
                "remaining_minutes": self.budget.remaining_minutes,
                "covered_seconds": self.budget.covered_s,
            },
            "burn_rates": {
                format_duration(b.window_s): {
                    "burn_rate": b.burn_rate,
                    "error_ratio": b.counts.error_ratio,
                    "bad": b.counts.bad,
                    "total": b.counts.total,
                    "enough_data": b.enough_data,
                }
                for b in self.burns
            },
            "current_burn_rate": self.current_burn,
            "fastest_burn": None
            if fastest is None
            else {"window": format_duration(fastest.window_s), "burn_rate": fastest.burn_rate},
            "time_to_exhaustion_seconds": self.time_to_exhaustion_s,
            "alerts": {s: str(self.alerts.get(s, AlertState.INACTIVE)) for s in SEVERITIES},
        }


def window_burns(spec: SLOSpec, counts: Mapping[int, EventCounts]) -> dict[int, WindowBurn]:
    minimum = spec.alerting.min_events
    return {
        w: WindowBurn(
            window_s=w,
            counts=counts[w],
            burn_rate=burn_rate(counts[w].error_ratio, spec.objective),
            enough_data=counts[w].total >= max(minimum, 1),
        )
        for w in window_lengths(spec.alerting.windows)
    }


def compute_status(
    spec: SLOSpec,
    at: float,
    counts: Mapping[int, EventCounts],
    covered_s: float,
    alerts: Mapping[Severity, AlertState] | None = None,
) -> SLOStatus:
    """``counts`` maps every length of :func:`windows_needed` to the events of the window
    ending at ``at``; ``covered_s`` is how much history there is."""
    window = counts[spec.window_s]
    budget = error_budget(window, spec.objective, spec.window_s, covered_s)
    burns = window_burns(spec, counts)
    shortest = burns[min(burns)]
    current = shortest.burn_rate if shortest.enough_data else None
    return SLOStatus(
        name=spec.name,
        service=spec.service,
        objective=spec.objective,
        window_s=spec.window_s,
        at=at,
        counts=window,
        budget=budget,
        burns=tuple(burns[w] for w in sorted(burns)),
        current_burn=current,
        time_to_exhaustion_s=time_to_exhaustion(budget.remaining, current, spec.window_s),
        enough_data=window.total >= max(spec.alerting.min_events, 1),
        alerts=dict(alerts or {}),
    )
