"""Pure math of cluster-wide limits: windows, shares, extrapolation, the overshoot bound."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zonegate.coordinator.ratelimit_math import (
    GlobalWindow,
    extrapolated,
    global_window,
    interval_allowance,
    local_share,
    overshoot_bound,
    reset_after,
    retry_after,
    sliding_estimate,
)


@pytest.mark.parametrize(
    ("requests", "period", "limit", "window"),
    [
        (300, 1.0, 300, 1.0),
        (1000, 60.0, 1000, 60.0),
        (10, 0.1, 100, 1.0),
        (5, 0.3, 20, 1.2),
        (1, 0.001, 1000, 1.0),
    ],
)
def test_short_periods_are_stretched_keeping_the_rate(
    requests: int, period: float, limit: int, window: float
) -> None:
    got = global_window(requests, period)
    assert got.limit == limit
    assert got.window_s == pytest.approx(window)


@given(st.integers(1, 10_000), st.floats(0.001, 86_400))
def test_stretched_window_keeps_rate_and_lasts_a_second(requests: int, period: float) -> None:
    got = global_window(requests, period)
    assert got.window_s >= 1.0 - 1e-9
    assert got.limit / got.window_s == pytest.approx(requests / period)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        global_window(0, 1.0)
    with pytest.raises(ValueError):
        global_window(1, 0.0)


@given(st.integers(1000, 3_600_000), st.integers(0, 2_000_000_000_000))
def test_window_start_round_trips(window_ms: int, epoch_ms: int) -> None:
    window = GlobalWindow(10, window_ms / 1000)
    index = epoch_ms // window_ms
    start = window.start_ms(index)
    assert window.index_of_start(start) == index
    assert window.index(start / 1000) == index
    assert window.index(start / 1000 + window.window_s * 0.999) == index


def test_sliding_estimate_weights_the_previous_window() -> None:
    assert sliding_estimate(100, 50, 0.0) == 150
    assert sliding_estimate(100, 50, 0.25) == 125
    assert sliding_estimate(100, 50, 1.0) == 50


@pytest.mark.parametrize(
    ("limit", "nodes", "share"),
    [(300, 3, 100), (10, 3, 4), (1, 3, 1), (300, 0, 300), (300, 1, 300), (7, 7, 1)],
)
def test_local_share_is_the_ceiling_of_limit_over_nodes(limit: int, nodes: int, share: int) -> None:
    assert local_share(limit, nodes) == share


@given(st.integers(1, 100_000), st.integers(1, 64))
def test_shares_cover_the_limit_with_at_most_one_extra_per_node(limit: int, nodes: int) -> None:
    total = local_share(limit, nodes) * nodes
    assert limit <= total <= limit + nodes - 1 or local_share(limit, nodes) == 1


def test_extrapolation_caps_age_at_one_interval_and_ignores_quiet_peers() -> None:
    now = 100.0
    rates = [(100.0, now - 0.05), (200.0, now - 0.2), (1000.0, now - 0.31)]
    # 100 x 0.05 + 200 x min(0.2, 0.1); the third report is older than 3 intervals
    assert extrapolated(rates, now, 0.1) == pytest.approx(5.0 + 20.0)
    assert extrapolated([], now, 0.1) == 0.0


def test_overshoot_bound_example_of_the_docs() -> None:
    # 3 nodes, 900 req/s offered 70/20/10: seen from the 630 req/s node
    assert overshoot_bound(300, [180, 90], 0.1, 0.01) == pytest.approx(29.7)
    # seen from the 90 req/s node (the worst case)
    assert overshoot_bound(300, [630, 180], 0.1, 0.01) == pytest.approx(89.1)
    # never more than (N - 1) x L
    assert overshoot_bound(300, [1e9, 1e9], 0.1, 0.01) == 600


def test_retry_after_is_when_the_estimate_fits_again() -> None:
    limit, window = 10, 1.0
    # full in the previous window, 4 now at 30%: fits once 10 x (1 - t) + 4 + 1 <= 10
    wait = retry_after(limit, window, 0.3, 10, 4, 1)
    assert wait == pytest.approx(0.5 - 0.3)
    assert sliding_estimate(10, 4, 0.3 + wait) + 1 <= limit + 1e-9
    # this window alone is full: only in the next one
    assert retry_after(limit, window, 0.5, 0, 10, 1) == pytest.approx(0.5 + 0.1)
    assert math.isinf(retry_after(limit, window, 0.5, 0, 0, 11))
    assert reset_after(window, 0.25, 3, 1) == pytest.approx(1.75)
    assert reset_after(window, 0.25, 3, 0) == pytest.approx(0.75)
    assert reset_after(window, 0.25, 0, 0) == 0.0


@settings(max_examples=200)
@given(
    st.integers(1, 1000),
    st.floats(0.0, 0.999),
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.integers(1, 5),
)
def test_retry_after_waits_long_enough(
    limit: int, fraction: float, prev: int, curr: int, cost: int
) -> None:
    wait = retry_after(limit, 1.0, fraction, prev, curr, cost)
    if math.isinf(wait):
        assert cost > limit
        return
    later = fraction + wait
    if later < 1.0:
        assert sliding_estimate(prev, curr, later) + cost <= limit + 1e-6
    else:  # in the next window, this one's count is the weighted previous one
        assert sliding_estimate(curr, 0, later - 1.0) + cost <= limit + 1e-6


def test_allowance_is_uncapped_while_demand_fits_the_room() -> None:
    # 300/s limit, full at 270, 270 sliding out per second: room 30 + 27 over 100 ms
    assert math.isinf(interval_allowance(300, 270, 270, 1.0, 0.1, 100, 500, 0.5))
    # 900/s offered: 90 per interval > 57: split by demand
    assert interval_allowance(300, 270, 270, 1.0, 0.1, 630, 900, 0.99) == 39  # 39.9 down
    assert interval_allowance(300, 270, 270, 1.0, 0.1, 630, 900, 0.0) == 40  # 39.9 up
    assert interval_allowance(300, 330, 0, 1.0, 0.1, 630, 900, 0.0) == 0  # over: no room
    assert interval_allowance(300, 300, 300, 1.0, 0.1, 0, 900, 0.0) == 0  # no demand here


@given(
    st.floats(1, 1000),
    st.floats(0, 1000),
    st.floats(0, 1000),
    st.lists(st.floats(0.1, 1000), min_size=1, max_size=5),
    st.floats(0.0, 0.999999),
)
def test_allowances_add_up_to_the_room_under_contention(
    limit: float, estimate: float, prev: float, demands: list[float], draw: float
) -> None:
    total = sum(demands)
    room = max(0.0, limit - estimate + prev * 0.1)
    parts = [interval_allowance(limit, estimate, prev, 1.0, 0.1, d, total, draw) for d in demands]
    if total * 0.1 <= room:
        assert all(math.isinf(p) for p in parts)
        return
    # each part is its exact share rounded down or up, so the sum is within N of the room
    assert all(p >= 0 and float(p).is_integer() for p in parts)
    assert room - len(parts) <= sum(parts) <= room + len(parts)
