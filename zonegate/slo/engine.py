"""The SLO engine: evaluates every SLO on an interval, runs the alert state machines,
keeps the alert history, notifies, and answers questions (the chaos harness's API).

Data comes from a :class:`~zonegate.slo.sources.DataSource` (embedded store or
Prometheus); the alert history always lives in the SQLite store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from zonegate.slo.alerts import Transition
from zonegate.slo.budget import EventCounts, budget_consumed_between, burn_rate
from zonegate.slo.durations import format_duration, parse_duration
from zonegate.slo.errors import BadQueryError, DataSourceError, UnknownSLOError
from zonegate.slo.evaluation import AlertBook, evaluate
from zonegate.slo.notify import Notifier
from zonegate.slo.sources import DataSource, EmbeddedSource
from zonegate.slo.spec import SLOSpec
from zonegate.slo.status import SLOStatus, windows_needed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BurnRateReport:
    slo: str
    window_s: int
    at: float
    counts: EventCounts
    burn_rate: float | None
    enough_data: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "slo": self.slo,
            "window": format_duration(self.window_s),
            "at": self.at,
            "burn_rate": self.burn_rate,
            "error_ratio": self.counts.error_ratio,
            "bad": self.counts.bad,
            "total": self.counts.total,
            "enough_data": self.enough_data,
        }


@dataclass(frozen=True)
class BudgetReport:
    """Error budget spent between two instants (a drill, an incident)."""

    slo: str
    start: float
    end: float
    counts: EventCounts
    consumed: float
    """fraction of the SLO window's error budget"""
    budget_minutes: float

    @property
    def consumed_minutes(self) -> float:
        return self.consumed * self.budget_minutes

    def to_json(self) -> dict[str, Any]:
        return {
            "slo": self.slo,
            "start": self.start,
            "end": self.end,
            "bad": self.counts.bad,
            "total": self.counts.total,
            "error_ratio": self.counts.error_ratio,
            "budget_consumed": self.consumed,
            "budget_consumed_minutes": self.consumed_minutes,
            "budget_total_minutes": self.budget_minutes,
        }


class SLOEngine:
    def __init__(
        self,
        specs: Sequence[SLOSpec],
        source: DataSource,
        history: EmbeddedSource,
        *,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
        interval_s: float = 10.0,
    ) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.source = source
        self.history = history
        self.notifier = notifier
        self.clock = clock
        self.interval_s = interval_s
        self.book = AlertBook()
        self.statuses: dict[str, SLOStatus] = {}
        self.last_error: str | None = None
        self.evaluations = 0

    def spec(self, name: str) -> SLOSpec:
        try:
            return self.specs[name]
        except KeyError:
            known = ", ".join(sorted(self.specs)) or "none"
            raise UnknownSLOError(f"no SLO named {name!r} (known: {known})") from None

    async def restore(self) -> None:
        """Continue the alert state machines where the previous run left them."""
        restored = []
        for last in await self.history.run(self.history.store.last_transitions):
            if last.slo in self.specs:
                self.book.restore(self.specs[last.slo], last)
                restored.append(last)
        if self.notifier is not None:  # firing alerts keep being re-sent to Alertmanager
            self.notifier.adopt(self.specs, restored)

    async def status_of(self, spec: SLOSpec, now: float) -> tuple[SLOStatus, list[Transition]]:
        counts = await self.source.window_counts(spec, now, windows_needed(spec))
        covered = await self.source.covered(spec, now)
        return evaluate(spec, self.book, now, counts, covered)

    async def evaluate_once(self) -> list[SLOStatus]:
        """Evaluate every SLO now; record and notify alert transitions."""
        now = self.clock()
        moved: list[Transition] = []
        failures: list[str] = []
        for spec in self.specs.values():
            try:
                status, transitions = await self.status_of(spec, now)
            except DataSourceError as exc:
                failures.append(f"{spec.name}: {exc.message}")
                continue
            self.statuses[spec.name] = status
            moved += transitions
        self.last_error = "; ".join(failures) or None
        if failures:
            log.warning("slo_evaluation_incomplete", extra={"error": self.last_error})
        if moved:
            await self.history.run(self.history.store.record_transitions, moved)
            for t in moved:
                log.info(
                    "slo_alert_transition",
                    extra={"slo": t.slo, "severity": t.severity, "state": str(t.state)},
                )
            if self.notifier is not None:
                self.notifier.notify(self.specs, moved)
        self.evaluations += 1
        return [self.statuses[name] for name in self.specs if name in self.statuses]

    async def fresh_statuses(self, max_age_s: float | None = None) -> dict[str, SLOStatus]:
        """The latest statuses; evaluates now when some are missing or older than
        ``max_age_s`` (default: two evaluation intervals)."""
        limit = 2 * self.interval_s if max_age_s is None else max_age_s
        now = self.clock()
        stale = len(self.statuses) < len(self.specs) or any(
            now - s.at > limit for s in self.statuses.values()
        )
        if stale:
            await self.evaluate_once()
        return self.statuses

    async def run(self) -> None:
        """Evaluate every ``interval_s`` until cancelled; re-send firing alerts."""
        last_resend = self.clock()
        while True:
            try:
                await self.evaluate_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("slo_evaluation_failed")
            if self.notifier is not None and self.clock() - last_resend >= self.notifier.resend_s:
                last_resend = self.clock()
                self.notifier.resend()
            await asyncio.sleep(self.interval_s)

    # --- the API the chaos harness and the dashboard use -------------------
    async def burn_rate_now(self, name: str, window: str = "5m") -> BurnRateReport:
        """Burn rate over ``window`` ending now (e.g. during a drill)."""
        spec = self.spec(name)
        try:
            seconds = parse_duration(window)
        except ValueError as exc:
            raise BadQueryError(str(exc)) from None
        now = self.clock()
        counts = await self.source.counts(spec, now - seconds, now)
        return BurnRateReport(
            slo=name,
            window_s=seconds,
            at=now,
            counts=counts,
            burn_rate=burn_rate(counts.error_ratio, spec.objective),
            enough_data=counts.total >= max(spec.alerting.min_events, 1),
        )

    async def budget_consumed(
        self, name: str, start: float, end: float | None = None
    ) -> BudgetReport:
        """Share of the error budget spent by the bad events between ``start`` and ``end``."""
        spec = self.spec(name)
        end = self.clock() if end is None else end
        if not end > start:
            raise BadQueryError(f"end ({end}) must be after start ({start})")
        interval = await self.source.counts(spec, start, end)
        window = await self.source.counts(spec, end - spec.window_s, end)
        covered = await self.source.covered(spec, end)
        consumed = budget_consumed_between(
            interval, window, spec.objective, spec.window_s, max(covered, end - start)
        )
        minutes = spec.error_budget * spec.window_s / 60.0
        return BudgetReport(name, start, end, interval, consumed, minutes)

    async def zone_breakdown(self, name: str, window_s: float | None = None) -> dict[str, Any]:
        spec = self.spec(name)
        now = self.clock()
        span = float(spec.window_s if window_s is None else window_s)
        zones = await self.source.zone_counts(spec, now - span, now)
        return {
            zone: {
                "bad": c.bad,
                "total": c.total,
                "sli": c.sli,
                "burn_rate": burn_rate(c.error_ratio, spec.objective),
            }
            for zone, c in zones.items()
        }

    async def burn_down(self, name: str, points: int = 60) -> list[tuple[float, float]]:
        """Budget remaining (fraction) across the current window, oldest first."""
        spec = self.spec(name)
        now = self.clock()
        covered = await self.source.covered(spec, now)
        if covered <= 0:
            return []
        start = now - covered
        window = await self.source.counts(spec, start, now)
        allowed = spec.error_budget * window.total * spec.window_s / covered
        times = [start + covered * i / points for i in range(1, points + 1)]
        counts = await asyncio.gather(*(self.source.counts(spec, start, t) for t in times))
        if allowed <= 0:
            return [(t, 1.0) for t in times]
        return [(t, 1.0 - c.bad / allowed) for t, c in zip(times, counts, strict=True)]

    async def burn_history(
        self, name: str, span_s: float = 6 * 3600, points: int = 72
    ) -> list[tuple[float, float | None]]:
        """Burn rate over consecutive slices of the last ``span_s`` seconds."""
        spec = self.spec(name)
        now = self.clock()
        step = span_s / points
        times = [now - span_s + step * i for i in range(1, points + 1)]
        counts = await asyncio.gather(*(self.source.counts(spec, t - step, t) for t in times))
        return [
            (t, burn_rate(c.error_ratio, spec.objective))
            for t, c in zip(times, counts, strict=True)
        ]

    async def alert_history(
        self, name: str | None = None, since: float = 0.0, limit: int = 500
    ) -> list[Transition]:
        if name is not None:
            self.spec(name)
        return await self.history.run(self.history.store.alert_history, name, since, limit)
