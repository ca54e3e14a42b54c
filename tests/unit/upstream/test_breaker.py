"""Error-rate breaker: rolling window, open period, half-open trials."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zonegate.config.upstream import ErrorRateBreaker as BreakerConfig
from zonegate.node.upstream.breaker import ErrorRateBreaker


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(**cfg: Any) -> tuple[ErrorRateBreaker, FakeClock, list[str]]:
    clock = FakeClock()
    changes: list[str] = []
    defaults: dict[str, Any] = {
        "threshold": 0.5,
        "min_requests": 10,
        "window_s": 10.0,
        "open_s": 5.0,
        "half_open_requests": 2,
    }
    breaker = ErrorRateBreaker(BreakerConfig(**(defaults | cfg)), clock, changes.append)
    return breaker, clock, changes


def feed(breaker: ErrorRateBreaker, ok: int, failed: int) -> None:
    for _ in range(ok):
        assert breaker.allow()
        breaker.record(True)
    for _ in range(failed):
        assert breaker.allow()
        breaker.record(False)


def trip(breaker: ErrorRateBreaker) -> None:
    feed(breaker, 0, 10)
    assert breaker.state == "open"


def test_closed_until_min_requests() -> None:
    breaker, _, changes = make()
    feed(breaker, 0, 9)
    assert breaker.state == "closed" and breaker.state_value == 0
    feed(breaker, 0, 1)
    assert breaker.state == "open" and breaker.state_value == 1
    assert changes == ["open"] and breaker.opens_total == 1


@pytest.mark.parametrize(
    ("ok", "failed", "state"),
    [(6, 4, "closed"), (5, 5, "open"), (4, 6, "open"), (100, 49, "closed"), (10, 0, "closed")],
)
def test_threshold_table(ok: int, failed: int, state: str) -> None:
    breaker, _, _ = make()
    feed(breaker, ok, failed)
    assert breaker.state == state


def test_success_completing_the_minimum_can_open() -> None:
    breaker, _, _ = make()
    feed(breaker, 0, 9)
    feed(breaker, 1, 0)  # 9 of 10 failed
    assert breaker.state == "open"


def test_old_buckets_fall_out_of_the_window() -> None:
    breaker, clock, _ = make()
    feed(breaker, 0, 9)
    clock.now += 10.0  # a whole window later the failures are forgotten
    feed(breaker, 1, 1)
    assert breaker.state == "closed" and breaker.window == (2, 1)


def test_window_rolls_bucket_by_bucket() -> None:
    breaker, clock, _ = make()
    feed(breaker, 0, 5)  # t = 100.0
    clock.now += 5.0
    feed(breaker, 4, 0)  # t = 105.0
    clock.now += 5.5  # the first bucket (100..101) dropped, the second half stays
    assert breaker.allow()
    breaker.record(True)
    assert breaker.window == (5, 0)


def test_open_refuses_until_open_s_then_half_open() -> None:
    breaker, clock, changes = make()
    trip(breaker)
    clock.now += 4.999
    assert not breaker.allow()
    clock.now += 0.001
    assert breaker.allow() and breaker.allow()  # two trials
    assert not breaker.allow()
    assert breaker.state == "half_open" and breaker.state_value == 2
    assert changes == ["open", "half_open"]


def test_half_open_closes_when_all_trials_succeed() -> None:
    breaker, clock, changes = make()
    trip(breaker)
    clock.now += 5.0
    assert breaker.allow() and breaker.allow()
    breaker.record(True)
    assert breaker.state == "half_open"
    breaker.record(True)
    assert breaker.state == "closed" and breaker.window == (0, 0)
    assert changes == ["open", "half_open", "closed"]
    feed(breaker, 0, 9)  # the old failures are gone: needs min_requests again
    assert breaker.state == "closed"


def test_half_open_reopens_on_any_trial_failure() -> None:
    breaker, clock, changes = make()
    trip(breaker)
    clock.now += 5.0
    assert breaker.allow() and breaker.allow()
    breaker.record(True)
    breaker.record(False)
    assert breaker.state == "open"
    assert changes == ["open", "half_open", "open"]
    clock.now += 4.0
    assert not breaker.allow()


def test_state_property_notices_elapsed_open_period() -> None:
    breaker, clock, _ = make()
    trip(breaker)
    clock.now += 5.0
    assert breaker.state == "half_open"


def test_outcomes_while_open_are_ignored() -> None:
    breaker, clock, _ = make()
    trip(breaker)
    for _ in range(5):
        breaker.record(True)  # stragglers started before the breaker opened
    clock.now += 5.0
    assert breaker.allow()
    breaker.record(False)
    assert breaker.state == "open"


def test_lost_trials_are_written_off() -> None:
    breaker, clock, _ = make()
    trip(breaker)
    clock.now += 5.0
    assert breaker.allow() and breaker.allow()  # both trials never report
    clock.now += 4.0
    assert not breaker.allow()
    clock.now += 1.0
    assert breaker.allow()


def test_disabled_always_allows() -> None:
    breaker, _, changes = make(enabled=False)
    feed(breaker, 0, 100)
    assert breaker.state == "closed" and not changes


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=3.0),
            st.sampled_from(["allow", "ok", "fail"]),
        ),
        max_size=150,
    ),
    half_open_requests=st.integers(min_value=1, max_value=4),
)
def test_never_allows_while_open_before_open_s(
    steps: list[tuple[float, str]], half_open_requests: int
) -> None:
    breaker, clock, changes = make(min_requests=3, half_open_requests=half_open_requests)
    opened_at: list[float] = []

    def changed(state: str) -> None:
        changes.append(state)
        if state == "open":
            opened_at.append(clock.now)

    breaker.on_state_change = changed
    for dt, action in steps:
        clock.now += dt
        if action == "allow":
            allowed = breaker.allow()
            if opened_at and clock.now < opened_at[-1] + 5.0:
                assert not allowed, "allowed a request while open"
        else:
            breaker.record(action == "ok")
    legal = {
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("half_open", "closed"),
    }
    for before, after in zip(["closed", *changes], changes, strict=False):
        assert (before, after) in legal
