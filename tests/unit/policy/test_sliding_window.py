"""Sliding-window counter: exact estimates with a fake clock."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zonegate.node.policy.decision import LimitSpec
from zonegate.node.policy.limiter import LocalRateLimiter


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(requests: int, window_s: float) -> tuple[LocalRateLimiter, FakeClock]:
    clock = FakeClock(6000.0)  # a window boundary for 60 s windows
    spec = LimitSpec("l", "sliding_window", requests, window_s, requests, 1000)
    return LocalRateLimiter(spec, clock), clock


def test_quota_within_one_window() -> None:
    rl, clock = limiter(10, 60.0)
    results = [rl.hit("k") for _ in range(11)]
    assert [d.allowed for d in results] == [True] * 10 + [False]
    assert [d.remaining for d in results[:10]] == list(range(9, -1, -1))
    clock.now += 59.999
    assert not rl.hit("k").allowed  # still the same window


def test_previous_window_weighs_in_linearly() -> None:
    rl, clock = limiter(10, 60.0)
    for _ in range(10):
        assert rl.hit("k").allowed
    clock.now = 6060.0  # next window starts: previous counts fully
    denied = rl.hit("k")
    assert not denied.allowed
    # 10 * (1 - t/60) + 0 + 1 <= 10 -> t >= 6 s
    assert abs(denied.retry_after_s - 6.0) < 1e-9
    clock.now = 6090.0  # half way: estimate 5 -> 5 more allowed
    assert [rl.hit("k").allowed for _ in range(6)] == [True] * 5 + [False]
    clock.now = 6120.0  # previous window now has 5; weight 1 -> 5 allowed
    assert [rl.hit("k").allowed for _ in range(6)] == [True] * 5 + [False]


def test_idle_two_windows_forgets_everything() -> None:
    rl, clock = limiter(3, 10.0)
    for _ in range(3):
        rl.hit("k")
    clock.now += 20.0
    assert [rl.hit("k").allowed for _ in range(4)] == [True, True, True, False]


def test_retry_after_into_next_window() -> None:
    rl, clock = limiter(4, 10.0)
    clock.now = 6005.0
    for _ in range(4):
        assert rl.hit("k").allowed
    denied = rl.hit("k")
    # this window is full: wait for 6010, then 4 * (1 - t/10) + 1 <= 4 -> t = 2.5
    assert abs(denied.retry_after_s - 7.5) < 1e-9
    assert denied.retry_after_seconds == 8
    clock.now += denied.retry_after_s - 0.01
    assert not rl.hit("k").allowed
    clock.now += 0.01
    assert rl.hit("k").allowed


def test_reset_reports_when_counts_slide_out() -> None:
    rl, clock = limiter(5, 10.0)
    clock.now = 6002.0
    d = rl.hit("k")
    assert abs(d.reset_s - 18.0) < 1e-9  # current count leaves at the end of the next window


@settings(max_examples=60, deadline=None)
@given(
    requests=st.integers(1, 30),
    gaps=st.lists(st.floats(0, 5.0, allow_nan=False), min_size=1, max_size=300),
)
def test_aligned_window_never_exceeds_quota(requests: int, gaps: list[float]) -> None:
    rl, clock = limiter(requests, 10.0)
    per_window: dict[int, int] = {}
    for gap in gaps:
        clock.now += gap
        if rl.hit("k").allowed:
            index = int(clock.now // 10.0)
            per_window[index] = per_window.get(index, 0) + 1
    assert all(count <= requests for count in per_window.values())
