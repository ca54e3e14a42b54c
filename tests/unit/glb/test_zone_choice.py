"""Zone choice as a table with a fake clock: preference, spill, panic, hold-down, ramp."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zonegate.glb.zone_choice import ZoneSelector

PREF = ["a", "b", "c"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def selector(clock: Clock, **kwargs: object) -> ZoneSelector:
    sel = ZoneSelector(factor=1.4, hold_down_s=10, ramp_s=5, clock=clock, **kwargs)  # type: ignore[arg-type]
    for zone in PREF:
        sel.update(zone, 2, 2)
    return sel


def shares(sel: ZoneSelector) -> dict[str, float]:
    zones, values = sel.shares(PREF)
    return {z: round(v, 3) for z, v in zip(zones, values, strict=True)}


@pytest.mark.parametrize(
    ("healthy", "expected"),
    [
        ({"a": 2}, {"a": 1.0}),  # all healthy: first preference only
        ({"a": 1}, {"a": 0.7, "b": 0.3}),  # half healthy x 1.4 = 70%, 30% spills
        ({"a": 0}, {"b": 1.0}),  # zone down: next zone takes everything
        ({"a": 0, "b": 0}, {"c": 1.0}),
        ({"a": 0, "b": 1}, {"b": 0.7, "c": 0.3}),
    ],
)
def test_priority_and_spill(healthy: dict[str, int], expected: dict[str, float]) -> None:
    clock = Clock()
    sel = selector(clock)
    for zone, n in healthy.items():
        sel.update(zone, n, 2)
    assert shares(sel) == expected


def test_panic_fail_open_spreads_over_every_zone_with_nodes() -> None:
    clock = Clock()
    sel = selector(clock)
    for zone in PREF:
        sel.update(zone, 0, 2)
    assert sel.panic(PREF)
    assert shares(sel) == {"a": 0.333, "b": 0.333, "c": 0.333}


def test_panic_fail_closed_answers_nothing() -> None:
    clock = Clock()
    sel = selector(clock, fail_open=False)
    for zone in PREF:
        sel.update(zone, 0, 2)
    assert sel.shares(PREF) == ([], [])
    assert sel.choose(PREF, random.Random(1)) is None


def test_failback_waits_for_hold_down_then_ramps() -> None:
    clock = Clock()
    sel = selector(clock)
    sel.update("a", 0, 2)
    assert shares(sel) == {"b": 1.0}
    clock.now += 1
    sel.update("a", 2, 2)  # back, but held down
    assert shares(sel) == {"b": 1.0}
    clock.now += 9.9
    assert shares(sel) == {"b": 1.0}
    clock.now += 0.1 + 2.5  # half-way through the 5 s ramp
    assert shares(sel) == {"a": 0.5, "b": 0.5}
    clock.now += 2.5
    assert shares(sel) == {"a": 1.0}
    events = [t.event for t in sel.transitions]
    assert events == ["down", "recovering", "restored"]


def test_flapping_zone_never_takes_traffic_back_while_it_flaps() -> None:
    clock = Clock()
    sel = selector(clock)
    for _ in range(20):
        sel.update("a", 0, 2)
        clock.now += 3
        sel.update("a", 2, 2)
        assert shares(sel) == {"b": 1.0}
        clock.now += 3
        assert shares(sel) == {"b": 1.0}


def test_recovering_zone_used_when_nothing_else_is_healthy() -> None:
    clock = Clock()
    sel = selector(clock)
    for zone in PREF:
        sel.update(zone, 0, 2)
    sel.update("a", 2, 2)
    assert shares(sel) == {"a": 1.0}


@given(
    st.lists(st.integers(min_value=0, max_value=4), min_size=3, max_size=3),
    st.floats(min_value=0, max_value=1),
)
def test_shares_sum_to_one_and_skip_unhealthy_zones(healthy: list[int], draw: float) -> None:
    clock = Clock()
    sel = selector(clock)
    for zone, n in zip(PREF, healthy, strict=True):
        sel.update(zone, n, 4)
    zones, values = sel.shares(PREF)
    if any(healthy):
        assert abs(sum(values) - 1) < 1e-9
        assert all(healthy[PREF.index(z)] > 0 for z in zones)
    rng = random.Random(draw)
    choice = sel.choose(PREF, rng)
    assert choice is None or choice in PREF
