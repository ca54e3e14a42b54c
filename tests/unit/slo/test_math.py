"""Counters, SLI, budget and burn rate on synthetic series with known answers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zonegate.slo.budget import (
    EventCounts,
    budget_consumed_between,
    burn_rate,
    error_budget,
    time_to_exhaustion,
)
from zonegate.slo.counters import CumulativeSeries, SummedSeries
from zonegate.slo.evaluation import SeriesPair
from zonegate.slo.loader import parse_slo_text
from zonegate.slo.spec import SLOSpec
from zonegate.slo.status import compute_status, windows_needed
from zonegate.slo.synthetic import constant, counter_samples, outage

DAY = 86400.0
MIN = 60.0


def spec(objective: float = 0.999, window: str = "30d", min_events: int = 0) -> SLOSpec:
    text = f"""
version: 1
slos:
  - name: s
    service: svc
    objective: {objective}
    window: {window}
    sli: {{kind: availability}}
    alerting: {{min_events: {min_events}}}
"""
    return parse_slo_text(text).slos[0]


def pair(start: float, end: float, step: float, rate: float, errors: object) -> SeriesPair:
    samples = list(counter_samples(start, end, step, rate, errors))  # type: ignore[arg-type]
    total = CumulativeSeries.from_raw(((t, tot) for t, tot, _ in samples), starts_at_zero=True)
    bad = CumulativeSeries.from_raw(((t, b) for t, _, b in samples), starts_at_zero=True)
    return SeriesPair(SummedSeries([bad]), SummedSeries([total]))


def test_counter_reset_counts_the_new_value() -> None:
    series = CumulativeSeries.from_raw([(0, 0), (10, 100), (20, 150), (30, 20), (40, 70)])
    assert series.values == [0, 100, 150, 170, 220]
    assert series.increase(0, 40) == 220
    assert series.increase(20, 30) == 20
    assert series.increase(25, 40) == 70


def test_first_sample_is_a_baseline_unless_known_to_start_at_zero() -> None:
    assert CumulativeSeries.from_raw([(5, 1000), (10, 1010)]).increase(0, 10) == 10
    fresh = CumulativeSeries.from_raw([(5, 3), (10, 13)], starts_at_zero=True)
    assert fresh.increase(0, 10) == 13


def test_gap_lands_on_the_first_sample_after_it() -> None:
    raw = [(t, t * 6.0) for t in range(0, 61, 10)] + [(120, 720.0), (130, 780.0)]
    series = CumulativeSeries.from_raw(raw)
    assert series.increase(60, 100) == 0
    assert series.increase(60, 120) == 360
    assert series.increase(0, 130) == 780


def test_out_of_order_sample_is_refused() -> None:
    series = CumulativeSeries.from_raw([(10, 1)])
    with pytest.raises(ValueError, match="not after"):
        series.append_raw(10, 2)


def test_summed_series_survive_a_node_that_leaves() -> None:
    a = CumulativeSeries.from_raw([(0, 0), (10, 10), (20, 20)], starts_at_zero=True)
    b = CumulativeSeries.from_raw([(0, 0), (10, 5)], starts_at_zero=True)  # node b went away
    both = SummedSeries([a, b])
    assert both.increase(0, 20) == 25
    assert both.increase(10, 20) == 10
    assert both.first_time == 0


@given(
    st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=2, max_size=40),
    st.integers(min_value=0, max_value=40),
)
def test_increase_is_additive_and_never_negative(raws: list[float], cut: int) -> None:
    series = CumulativeSeries.from_raw(enumerate(raws))
    mid = min(cut, len(raws) - 1) + 0.5
    end = float(len(raws))
    assert series.increase(-1, mid) + series.increase(mid, end) == pytest.approx(
        series.increase(-1, end)
    )
    assert all(b >= a for a, b in zip(series.values, series.values[1:], strict=False))


def test_constant_error_rate() -> None:
    s = spec()
    now = 31 * DAY
    data = pair(0, now, MIN, rate=10, errors=constant(0.002))
    status = compute_status(s, now, data.window_counts(now, windows_needed(s)), data.covered(now))
    assert status.sli == pytest.approx(0.998)
    for burn in status.burns:
        assert burn.burn_rate == pytest.approx(2.0)
    assert status.budget.consumed == pytest.approx(2.0)
    assert status.budget.remaining == pytest.approx(-1.0)
    assert status.budget.total_minutes == pytest.approx(43.2)
    assert status.time_to_exhaustion_s == 0.0
    assert status.health == "critical"


def test_thirty_minute_outage() -> None:
    s = spec()
    now = 31 * DAY
    data = pair(0, now, MIN, rate=10, errors=outage(now - 30 * MIN, now))
    status = compute_status(s, now, data.window_counts(now, windows_needed(s)), data.covered(now))
    assert status.budget.consumed_minutes == pytest.approx(30.0)
    assert status.budget.remaining_minutes == pytest.approx(13.2)
    assert status.budget.consumed == pytest.approx(30 / 43.2)
    burns = {b.window_s: b.burn_rate for b in status.burns}
    assert burns[300] == pytest.approx(1000)
    assert burns[3600] == pytest.approx(500)
    assert burns[6 * 3600] == pytest.approx(1000 * 30 / 360)
    assert burns[3 * 86400] == pytest.approx(1000 * 30 / 4320)
    assert status.fastest is not None and status.fastest.window_s == 300
    # at the current (5m) burn of 1000x the remaining 13.2 budget minutes last 13.2/1000 x 30d
    assert status.time_to_exhaustion_s == pytest.approx((13.2 / 43.2) * 30 * DAY / 1000)


def test_short_history_budget_is_in_minutes_of_outage() -> None:
    s = spec()
    now = 10 * MIN
    data = pair(0, now, 10, rate=10, errors=outage(5 * MIN, now))
    status = compute_status(s, now, data.window_counts(now, windows_needed(s)), data.covered(now))
    assert status.budget.covered_s == pytest.approx(600)
    assert status.budget.consumed_minutes == pytest.approx(5.0)


def test_budget_between_two_timestamps() -> None:
    s = spec()
    now = 2 * DAY
    data = pair(0, now, MIN, rate=10, errors=outage(DAY, DAY + 10 * MIN))
    interval = data.counts(DAY - MIN, DAY + 20 * MIN)
    window = data.counts(now - s.window_s, now)
    consumed = budget_consumed_between(interval, window, s.objective, s.window_s, now)
    assert consumed == pytest.approx(10 / 43.2)


def test_counts_and_rates_edge_cases() -> None:
    assert EventCounts(0, 0).error_ratio is None
    assert EventCounts(5, 2).error_ratio == 1.0
    assert burn_rate(None, 0.99) is None
    assert burn_rate(0.01, 0.99) == pytest.approx(1.0)
    assert error_budget(EventCounts(0, 0), 0.99, DAY, DAY).consumed == 0
    assert time_to_exhaustion(0.5, 2.0, 30 * DAY) == pytest.approx(7.5 * DAY)
    assert time_to_exhaustion(0.5, 0.0, 30 * DAY) is None
    assert time_to_exhaustion(-0.1, 2.0, 30 * DAY) == 0.0


def test_no_traffic_is_no_data() -> None:
    s = spec()
    data = pair(0, DAY, MIN, rate=0, errors=constant(0))
    status = compute_status(s, DAY, data.window_counts(DAY, windows_needed(s)), DAY)
    assert status.health == "no_data"
    assert status.sli is None
    assert status.to_json()["budget"]["consumed"] == 0
