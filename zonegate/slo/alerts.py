"""Multi-window multi-burn-rate alerts: one state machine per SLO and severity.

A row of the window table is *active* when the burn rate over both its long
and its short window is above the row's ``burn_rate`` and both windows hold
at least ``min_events`` events. A severity is active when any of its rows is.

States follow Prometheus: ``inactive`` -> ``pending`` while a row has been
active for less than its ``for`` -> ``firing``; a firing alert whose rows all
turn inactive is ``resolved`` and stays so for ``keep_resolved`` (so the
dashboard and notifications show the recovery), then ``inactive``. With
``for: 0s`` an alert goes straight to firing, as in Prometheus. Pure: the
caller passes ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from zonegate.slo.budget import EventCounts
from zonegate.slo.windows import AlertWindow, Severity


class AlertState(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class WindowBurn:
    """Events and burn rate over one window ending now."""

    window_s: int
    counts: EventCounts
    burn_rate: float | None
    enough_data: bool


@dataclass(frozen=True)
class RowResult:
    row: AlertWindow
    long: WindowBurn
    short: WindowBurn

    @property
    def active(self) -> bool:
        return all(
            w.enough_data and w.burn_rate is not None and w.burn_rate > self.row.burn_rate
            for w in (self.long, self.short)
        )

    @property
    def label(self) -> str:
        return f"{self.row.burn_rate:g}x {self.row.long}/{self.row.short}"


def evaluate_rows(rows: Sequence[AlertWindow], burns: Mapping[int, WindowBurn]) -> list[RowResult]:
    return [RowResult(row, burns[row.long_s], burns[row.short_s]) for row in rows]


@dataclass(frozen=True)
class Transition:
    """An alert changed state; what notifications and the history record."""

    slo: str
    severity: Severity
    previous: AlertState
    state: AlertState
    at: float
    started_at: float | None
    """when it started firing (None if it never did)"""
    burn_rate: float | None
    """highest long-window burn rate among the rows that decided the change"""
    windows: tuple[str, ...]
    """the rows that were active, e.g. ``("14.4x 1h/5m",)``"""


@dataclass
class AlertTracker:
    slo: str
    severity: Severity
    keep_resolved_s: float
    state: AlertState = AlertState.INACTIVE
    changed_at: float = 0.0
    started_at: float | None = None
    row_since: dict[int, float] = field(default_factory=dict)

    def step(self, now: float, results: Sequence[RowResult]) -> Transition | None:
        for index, result in enumerate(results):
            if result.active:
                self.row_since.setdefault(index, now)
            else:
                self.row_since.pop(index, None)
        active = [results[i] for i in self.row_since]
        due = [
            r
            for i, r in enumerate(results)
            if i in self.row_since and now - self.row_since[i] >= r.row.for_s
        ]
        target = self._next(now, bool(active), bool(due))
        if target == self.state:
            return None
        decided = due or active or list(results)
        burns = [r.long.burn_rate for r in decided if r.long.burn_rate is not None]
        previous, self.state, self.changed_at = self.state, target, now
        if target == AlertState.FIRING:
            self.started_at = now
        transition = Transition(
            slo=self.slo,
            severity=self.severity,
            previous=previous,
            state=target,
            at=now,
            started_at=self.started_at,
            burn_rate=max(burns) if burns else None,
            windows=tuple(r.label for r in (due or active)),
        )
        if target == AlertState.INACTIVE:
            self.started_at = None
        return transition

    def _next(self, now: float, active: bool, due: bool) -> AlertState:
        state = self.state
        if due:
            return AlertState.FIRING
        if state == AlertState.FIRING:
            return AlertState.FIRING if active else AlertState.RESOLVED
        if active:
            return AlertState.PENDING
        if state == AlertState.RESOLVED and now - self.changed_at < self.keep_resolved_s:
            return AlertState.RESOLVED
        return AlertState.INACTIVE

    def restore(self, state: AlertState, changed_at: float, started_at: float | None) -> None:
        """Continue from a state recorded before a restart (pending restarts its wait)."""
        self.state = AlertState.INACTIVE if state == AlertState.PENDING else state
        self.changed_at = changed_at
        self.started_at = started_at
