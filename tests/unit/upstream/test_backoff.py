"""Jittered exponential back-off."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zonegate.node.upstream.backoff import backoff_delay


@given(
    attempt=st.integers(min_value=1, max_value=10_000),
    base=st.floats(min_value=0.001, max_value=10.0),
    extra=st.floats(min_value=0.0, max_value=100.0),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_bounds(attempt: int, base: float, extra: float, seed: int) -> None:
    cap = base + extra
    delay = backoff_delay(attempt, base, cap, random.Random(seed))
    assert 0.0 <= delay < min(base * 2.0 ** min(attempt - 1, 1000), cap)


@pytest.mark.parametrize(
    ("attempt", "upper"), [(1, 0.025), (2, 0.05), (3, 0.1), (4, 0.2), (5, 0.25)]
)
def test_interval_doubles_up_to_the_cap(attempt: int, upper: float) -> None:
    rng = random.Random(attempt)
    delays = [backoff_delay(attempt, 0.025, 0.25, rng) for _ in range(4000)]
    assert max(delays) < upper
    assert max(delays) > upper * 0.99  # the whole range is used: fully jittered
    assert min(delays) < upper * 0.01
    assert sum(delays) / len(delays) == pytest.approx(upper / 2, rel=0.05)


def test_cap_below_base_wins() -> None:
    assert backoff_delay(1, 1.0, 0.1, random.Random(1)) < 0.1


def test_attempt_must_be_positive() -> None:
    with pytest.raises(ValueError, match="from 1"):
        backoff_delay(0, 0.025, 0.25, random.Random())
