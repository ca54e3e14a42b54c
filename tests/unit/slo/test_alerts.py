"""Alert timing against the SRE workbook table, with a fake clock."""

from __future__ import annotations

from collections.abc import Callable

from zonegate.slo.alerts import AlertState, Transition
from zonegate.slo.counters import CumulativeSeries, SummedSeries
from zonegate.slo.evaluation import AlertBook, SeriesPair, evaluate_memory
from zonegate.slo.loader import parse_slo_text
from zonegate.slo.spec import SLOSpec
from zonegate.slo.synthetic import counter_samples

DAY = 86400.0
HISTORY = 3 * DAY  # clean traffic before every scenario, so every window is full


def slo(extra: str = "", objective: float = 0.999) -> SLOSpec:
    text = f"""
version: 1
slos:
  - name: api
    service: api
    objective: {objective}
    sli: {{kind: availability}}
    {extra}
"""
    return parse_slo_text(text).slos[0]


class Scenario:
    """Cumulative counters from ``errors(t)`` at ``rate`` req/s, evaluated on a fake clock."""

    def __init__(
        self,
        spec: SLOSpec,
        errors: Callable[[float], float],
        end: float,
        step: float,
        rate: float = 10.0,
    ) -> None:
        samples = list(counter_samples(0, end, step, rate, errors))
        total = CumulativeSeries.from_raw(((t, v) for t, v, _ in samples), starts_at_zero=True)
        bad = CumulativeSeries.from_raw(((t, b) for t, _, b in samples), starts_at_zero=True)
        self.spec = spec
        self.series = {spec.name: SeriesPair(SummedSeries([bad]), SummedSeries([total]))}
        self.book = AlertBook()
        self.now = 0.0
        self.log: list[Transition] = []

    def run(self, until: float, every: float) -> None:
        while self.now + every <= until + 1e-9:
            self.now += every
            _, moved = evaluate_memory([self.spec], self.series, self.book, lambda: self.now)
            self.log += moved

    def skip_to(self, t: float) -> None:
        """Jump the clock over clean history (nothing can fire there)."""
        self.now = t

    def state(self, severity: str) -> AlertState:
        return self.book.states(self.spec.name).get(severity, AlertState.INACTIVE)  # type: ignore[call-overload, no-any-return]

    def first(self, severity: str, state: AlertState) -> float | None:
        return next((t.at for t in self.log if t.severity == severity and t.state == state), None)


def test_full_outage_pages_within_the_short_window_detection_time() -> None:
    start = HISTORY
    scenario = Scenario(
        slo(), lambda t: 1.0 if start <= t < start + 600 else 0.0, end=start + 3600, step=10
    )
    scenario.run(start, every=600)
    assert scenario.state("page") == AlertState.INACTIVE
    scenario.run(start + 600, every=10)
    fired = scenario.first("page", AlertState.FIRING)
    assert fired is not None
    # 1h window passes 14.4 x 0.1 % = 1.44 % errors after 0.0144 h = 51.8 s of outage
    assert start + 50 <= fired <= start + 60
    assert fired - start < 300  # well inside the 5m short window
    transition = next(t for t in scenario.log if t.state == AlertState.FIRING)
    assert transition.windows[0] == "14.4x 1h/5m"
    assert transition.burn_rate is not None and transition.burn_rate > 14.4


def test_recovery_resolves_then_goes_inactive() -> None:
    start = HISTORY
    scenario = Scenario(
        slo(), lambda t: 1.0 if start <= t < start + 600 else 0.0, end=start + 3 * 3600, step=10
    )
    scenario.skip_to(start - 60)
    scenario.run(start + 3 * 3600, every=10)
    resolved = scenario.first("page", AlertState.RESOLVED)
    assert resolved is not None
    # the 10-minute outage also tripped the 6x 6h/30m row; it resets when its 30m short
    # window drops below 6 x 0.1 %: (1800 - e) / 1800 < 0.006 at e = 1789.2 s after the end
    assert start + 600 + 1780 <= resolved <= start + 600 + 1800
    inactive = scenario.first("page", AlertState.INACTIVE)
    assert inactive is not None and inactive - resolved >= 15 * 60
    states = [t.state for t in scenario.log if t.severity == "page"]
    assert states == [AlertState.FIRING, AlertState.RESOLVED, AlertState.INACTIVE]
    assert scenario.log[0].started_at is not None


def test_burn_of_14_4x_fires_the_one_hour_page() -> None:
    start = HISTORY
    rate = 15 * 0.001  # just above 14.4x: alert conditions are strictly greater than
    scenario = Scenario(slo(), lambda t: rate if t >= start else 0.0, end=start + 2 * 3600, step=10)
    scenario.skip_to(start - 60)
    scenario.run(start + 2 * 3600, every=60)
    fired = scenario.first("page", AlertState.FIRING)
    assert fired is not None
    # 1h error ratio crosses 1.44 % after 1.44/1.5 h = 57.6 min
    assert start + 57 * 60 <= fired <= start + 59 * 60
    assert scenario.log[0].windows == ("14.4x 1h/5m",)


def test_burn_of_1x_fires_only_the_three_day_ticket() -> None:
    start = HISTORY
    scenario = Scenario(
        slo(), lambda t: 0.0012 if t >= start else 0.0, end=start + 4 * DAY, step=60
    )
    scenario.run(start + 4 * DAY, every=600)
    assert scenario.first("page", AlertState.FIRING) is None
    fired = scenario.first("ticket", AlertState.FIRING)
    assert fired is not None
    # 3d error ratio crosses 0.1 % after 3d / 1.2 = 2.5 days at 1.2x
    assert start + 2.45 * DAY <= fired <= start + 2.55 * DAY
    assert next(t for t in scenario.log if t.state == AlertState.FIRING).windows == ("1x 3d/6h",)


def test_low_traffic_never_alerts_below_min_events() -> None:
    start = HISTORY
    errors = lambda t: 1.0 if t >= start else 0.0  # noqa: E731
    quiet = Scenario(slo("alerting: {min_events: 100}"), errors, start + 3600, 60, rate=0.01)
    quiet.skip_to(start - 60)
    quiet.run(start + 3600, every=60)
    assert quiet.first("page", AlertState.FIRING) is None
    statuses, _ = evaluate_memory([quiet.spec], quiet.series, quiet.book, lambda: quiet.now)
    short = {b.window_s: b.enough_data for b in statuses[0].burns}
    assert short[300] is False and short[int(3 * DAY)] is True

    loud = Scenario(slo("alerting: {min_events: 0}"), errors, start + 3600, 60, rate=0.01)
    loud.skip_to(start - 60)
    loud.run(start + 3600, every=60)
    assert loud.first("page", AlertState.FIRING) is not None


def test_for_duration_goes_through_pending() -> None:
    table = "alerting: {windows: [{severity: page, burn_rate: 10, long: 1h, short: 5m, for: 10m}]}"
    start = HISTORY
    blip = Scenario(
        slo(table), lambda t: 1.0 if start <= t < start + 60 else 0.0, end=start + 3600, step=10
    )
    blip.skip_to(start - 60)
    blip.run(start + 3600, every=30)
    assert [t.state for t in blip.log] == [AlertState.PENDING, AlertState.INACTIVE]

    long_outage = Scenario(
        slo(table), lambda t: 1.0 if t >= start else 0.0, end=start + 3600, step=10
    )
    long_outage.skip_to(start - 60)
    long_outage.run(start + 1800, every=30)
    pending = long_outage.first("page", AlertState.PENDING)
    firing = long_outage.first("page", AlertState.FIRING)
    assert pending is not None and firing is not None
    assert firing - pending == 600


def test_disabled_alerting_and_restore() -> None:
    start = HISTORY
    off = Scenario(slo("alerting: {enabled: false}"), lambda t: 1.0, start + 600, 10)
    off.skip_to(start)
    off.run(start + 600, every=60)
    assert off.log == []

    spec = slo()
    book = AlertBook()
    book.restore(
        spec,
        Transition(
            "api",
            "page",
            AlertState.PENDING,
            AlertState.FIRING,
            at=100.0,
            started_at=100.0,
            burn_rate=20.0,
            windows=(),
        ),
    )
    assert book.states("api") == {"page": AlertState.FIRING}
