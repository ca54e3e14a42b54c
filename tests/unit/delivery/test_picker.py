"""Smooth weighted choice: exact shares, spread-out picks, sticky points."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zonegate.node.delivery.picker import (
    MAX_SCHEDULE,
    SmoothWeightedPicker,
    smooth_schedule,
    sticky_point,
)


def test_95_5_split_is_exact_over_10000_picks() -> None:
    picker = SmoothWeightedPicker(["stable", "canary"], [95, 5])
    counts = Counter(picker.next() for _ in range(10_000))
    assert counts == {"stable": 9500, "canary": 500}


def test_picks_are_spread_out_not_bunched() -> None:
    picker = SmoothWeightedPicker(["stable", "canary"], [95, 5])
    picks = [picker.next() for _ in range(200)]
    positions = [i for i, p in enumerate(picks) if p == "canary"]
    gaps = {b - a for a, b in itertools.pairwise(positions)}
    assert gaps == {20}  # one canary request in every twenty, never two in a row


def test_weight_zero_is_never_picked() -> None:
    picker = SmoothWeightedPicker(["a", "b", "c"], [0, 3, 1])
    assert {picker.next() for _ in range(1000)} == {"b", "c"}
    assert all(picker.at(p / 100) in {"b", "c"} for p in range(100))


def test_live_mode_for_long_periods_is_exact_too() -> None:
    weights = [MAX_SCHEDULE + 1, 7919]  # coprime, period longer than a schedule
    picker = SmoothWeightedPicker(["a", "b"], weights)
    assert picker.period > MAX_SCHEDULE
    counts = Counter(picker.next() for _ in range(picker.period))
    assert counts == {"a": weights[0], "b": weights[1]}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6))
def test_every_period_gives_each_item_exactly_its_share(weights: list[int]) -> None:
    if sum(weights) == 0:
        with pytest.raises(ValueError):
            SmoothWeightedPicker(list(range(len(weights))), weights)
        return
    picker = SmoothWeightedPicker(list(range(len(weights))), weights)
    divisor = math.gcd(*(w for w in weights if w))
    counts = Counter(picker.next() for _ in range(picker.period * 2))
    for item, weight in enumerate(weights):
        assert counts.get(item, 0) == 2 * weight // divisor


def test_schedule_matches_nginx_example() -> None:
    # nginx's documented smooth sequence for weights 5, 1, 1: a a b a c a a
    assert smooth_schedule([5, 1, 1]) == [0, 0, 1, 0, 2, 0, 0]


def test_sticky_point_is_stable_and_uniform() -> None:
    assert sticky_point(b"user-1") == sticky_point(b"user-1")
    points = [sticky_point(f"user-{i}".encode()) for i in range(10_000)]
    assert all(0.0 <= p < 1.0 for p in points)
    below = sum(p < 0.05 for p in points)
    assert 400 <= below <= 600  # ~5 %


def test_growing_a_weight_only_moves_clients_onto_it() -> None:
    before = SmoothWeightedPicker(["stable", "canary"], [95, 5])
    after = SmoothWeightedPicker(["stable", "canary"], [90, 10])
    clients = [sticky_point(f"c{i}".encode()) for i in range(5000)]
    for point in clients:
        if before.at(point) == "canary":
            assert after.at(point) == "canary"
    moved = sum(before.at(p) != after.at(p) for p in clients)
    assert 150 <= moved <= 350  # ~5 % of the clients move to the canary
