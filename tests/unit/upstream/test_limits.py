"""Resource limits and the retry budget."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zonegate.config.routes import RetryBudget as RetryBudgetConfig
from zonegate.config.upstream import CircuitBreaker
from zonegate.node.upstream.limits import ResourceLimits, RetryBudget

KINDS = ["request", "pending", "connection", "retry"]


def ops(limits: ResourceLimits, kind: str) -> tuple[Callable[[], bool], Callable[[], None]]:
    return getattr(limits, f"try_acquire_{kind}"), getattr(limits, f"release_{kind}")


@pytest.mark.parametrize("kind", KINDS)
def test_acquire_up_to_the_threshold(kind: str) -> None:
    cfg = CircuitBreaker(max_connections=3, max_pending_requests=3, max_requests=3, max_retries=3)
    limits = ResourceLimits(cfg)
    acquire, release = ops(limits, kind)
    assert [acquire() for _ in range(4)] == [True, True, True, False]
    release()
    assert acquire()
    assert not acquire()
    counter = {"request": "requests", "pending": "pending", "connection": "connections"}
    name = counter.get(kind, "retries")
    assert getattr(limits, name) == 3
    assert getattr(limits, f"{name}_overflow") == 2


def test_kinds_are_independent() -> None:
    limits = ResourceLimits(CircuitBreaker(max_requests=1, max_retries=1))
    assert limits.try_acquire_request()
    assert not limits.try_acquire_request()
    assert limits.try_acquire_retry()
    assert limits.try_acquire_pending() and limits.try_acquire_connection()


def test_zero_pending_means_no_queueing() -> None:
    limits = ResourceLimits(CircuitBreaker(max_pending_requests=0, max_retries=0))
    assert not limits.try_acquire_pending()
    assert not limits.try_acquire_retry()


@pytest.mark.parametrize("kind", KINDS)
def test_unmatched_release_never_goes_negative(kind: str) -> None:
    limits = ResourceLimits(CircuitBreaker())
    _, release = ops(limits, kind)
    release()
    assert limits.release_underflows == 1
    assert min(limits.requests, limits.pending, limits.connections, limits.retries) == 0


def test_reconfigure_keeps_in_flight_counts() -> None:
    limits = ResourceLimits(CircuitBreaker(max_requests=5))
    for _ in range(4):
        assert limits.try_acquire_request()
    limits.reconfigure(CircuitBreaker(max_requests=3))
    assert limits.requests == 4 and not limits.try_acquire_request()
    for _ in range(2):
        limits.release_request()
    assert limits.try_acquire_request()


@given(st.lists(st.sampled_from(["acquire", "release"]), max_size=100))
def test_count_stays_within_bounds(actions: list[str]) -> None:
    limits = ResourceLimits(CircuitBreaker(max_requests=4))
    for action in actions:
        if action == "acquire":
            limits.try_acquire_request()
        else:
            limits.release_request()
        assert 0 <= limits.requests <= 4


@pytest.mark.parametrize(
    ("percent", "minimum", "active", "retries", "allowed"),
    [
        (20.0, 3, 0, 0, True),
        (20.0, 3, 0, 2, True),
        (20.0, 3, 0, 3, False),  # the floor of min_concurrency
        (20.0, 3, 100, 19, True),
        (20.0, 3, 100, 20, False),  # 20% of 100
        (20.0, 3, 12, 2, True),  # 2.4 rounds down to 2, but min 3 wins
        (50.0, 0, 5, 2, False),  # 2.5 rounds down to 2
        (50.0, 0, 5, 1, True),
        (0.0, 0, 1000, 0, False),  # no retries at all
        (100.0, 0, 7, 6, True),
    ],
)
def test_retry_budget(
    percent: float, minimum: int, active: int, retries: int, allowed: bool
) -> None:
    budget = RetryBudget(RetryBudgetConfig(percent=percent, min_concurrency=minimum))
    assert budget.allows(active, retries) is allowed
    assert (retries < budget.limit(active)) is allowed


@given(
    percent=st.floats(min_value=0, max_value=100),
    minimum=st.integers(min_value=0, max_value=50),
    active=st.integers(min_value=0, max_value=10_000),
)
def test_retry_budget_is_monotonic(percent: float, minimum: int, active: int) -> None:
    budget = RetryBudget(RetryBudgetConfig(percent=percent, min_concurrency=minimum))
    limit = budget.limit(active)
    assert limit >= minimum
    assert limit <= max(minimum, percent / 100 * active)
    assert budget.limit(active + 1) >= limit
    assert budget.allows(active, limit - 1) or limit == 0
    assert not budget.allows(active, limit)
