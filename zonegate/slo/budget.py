"""SLI, error budget and burn rate: pure arithmetic on event counts.

Budgeting is by occurrences (events). ``covered_s`` is how much of the SLO
window has data; while history is shorter than the window, the window's
event count is extrapolated from the covered part, so the budget consumed
by a 5-minute full outage is 5 minutes' worth whatever the history length
(with a 30-day 99.9 % objective: 5 of 43.2 budget minutes).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventCounts:
    """Bad and total events over some interval."""

    bad: float
    total: float

    @property
    def error_ratio(self) -> float | None:
        """Bad / total, or None without events."""
        return min(1.0, self.bad / self.total) if self.total > 0 else None

    @property
    def sli(self) -> float | None:
        ratio = self.error_ratio
        return None if ratio is None else 1.0 - ratio

    def __add__(self, other: EventCounts) -> EventCounts:
        return EventCounts(self.bad + other.bad, self.total + other.total)


NO_EVENTS = EventCounts(0.0, 0.0)


def burn_rate(error_ratio: float | None, objective: float) -> float | None:
    """How many times faster than sustainable the budget burns (1.0 = exactly on budget)."""
    if error_ratio is None:
        return None
    return error_ratio / (1.0 - objective)


@dataclass(frozen=True)
class Budget:
    """Error budget of one SLO window: as a ratio of the budget and as minutes of full outage."""

    objective: float
    window_s: float
    covered_s: float
    consumed: float
    """fraction of the window's budget already spent (may exceed 1)"""

    @property
    def budget_ratio(self) -> float:
        return round(1.0 - self.objective, 12)

    @property
    def remaining(self) -> float:
        return 1.0 - self.consumed

    @property
    def total_minutes(self) -> float:
        """Minutes of full outage the window allows: (1 - objective) x window."""
        return self.budget_ratio * self.window_s / 60.0

    @property
    def consumed_minutes(self) -> float:
        return self.consumed * self.total_minutes

    @property
    def remaining_minutes(self) -> float:
        return self.total_minutes - self.consumed_minutes


def error_budget(
    counts: EventCounts, objective: float, window_s: float, covered_s: float
) -> Budget:
    """Budget over a window with ``counts`` observed over ``covered_s`` seconds of it."""
    covered = min(max(covered_s, 0.0), window_s)
    ratio = counts.error_ratio
    if ratio is None or covered <= 0:
        return Budget(objective, window_s, covered, 0.0)
    consumed = ratio * covered / ((1.0 - objective) * window_s)
    return Budget(objective, window_s, covered, consumed)


def budget_consumed_between(
    interval: EventCounts, window: EventCounts, objective: float, window_s: float, covered_s: float
) -> float:
    """Fraction of the window's budget spent by the bad events of ``interval``.

    ``window`` are the counts of the SLO window that ends where the interval
    ends (covering ``covered_s`` seconds); the allowed bad events are
    ``(1 - objective)`` of the window's (extrapolated) event count.
    """
    base = window if window.total > 0 else interval
    covered = min(max(covered_s, 1e-9), window_s)
    expected_total = base.total * window_s / covered
    allowed = (1.0 - objective) * expected_total
    return interval.bad / allowed if allowed > 0 else 0.0


def time_to_exhaustion(remaining: float, burn: float | None, window_s: float) -> float | None:
    """Seconds until the budget is gone at ``burn``; None when it is not burning."""
    if remaining <= 0:
        return 0.0
    if burn is None or burn <= 0:
        return None
    return remaining * window_s / burn
