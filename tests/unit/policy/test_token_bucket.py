"""Token bucket (GCRA form): exact decisions with a fake clock."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zonegate.node.policy.decision import LimitSpec
from zonegate.node.policy.limiter import LocalRateLimiter
from zonegate.node.policy.lru import BoundedLRU
from zonegate.node.policy.token_bucket import TokenBucket


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(
    requests: int, per_s: float, burst: int | None = None
) -> tuple[LocalRateLimiter, FakeClock]:
    clock = FakeClock()
    spec = LimitSpec("l", "token_bucket", requests, per_s, burst or requests, 1000)
    return LocalRateLimiter(spec, clock), clock


def test_burst_then_exact_refill() -> None:
    rl, clock = limiter(10, 1.0)  # 10/s, bucket 10
    decisions = [rl.hit("k") for _ in range(10)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    denied = rl.hit("k")
    assert not denied.allowed
    assert denied.remaining == 0
    assert abs(denied.retry_after_s - 0.1) < 1e-9
    assert denied.retry_after_seconds == 1
    clock.now += 0.1 - 1e-6  # not quite one token yet
    assert not rl.hit("k").allowed
    clock.now += 1e-6
    assert rl.hit("k").allowed
    assert not rl.hit("k").allowed
    clock.now += 0.3  # exactly three tokens (0.1 * 3 is not 0.3 in floats)
    assert [rl.hit("k").allowed for _ in range(4)] == [True, True, True, False]


def test_refill_caps_at_burst() -> None:
    rl, clock = limiter(1, 1.0, burst=3)
    assert [rl.hit("k").allowed for _ in range(4)] == [True, True, True, False]
    clock.now += 3600
    first = rl.hit("k")
    assert first.allowed and first.remaining == 2
    assert [rl.hit("k").allowed for _ in range(3)] == [True, True, False]


def test_reset_is_time_until_full() -> None:
    rl, clock = limiter(2, 1.0, burst=4)  # a token every 0.5 s
    d = rl.hit("k")
    assert d.limit == 4 and d.remaining == 3
    assert abs(d.reset_s - 0.5) < 1e-9
    rl.hit("k")
    rl.hit("k")
    d = rl.hit("k")
    assert d.remaining == 0 and abs(d.reset_s - 2.0) < 1e-9 and d.reset_seconds == 2
    clock.now += 0.75
    d = rl.hit("k")  # 1.5 tokens refilled, one used
    assert d.allowed and d.remaining == 0
    assert abs(rl.hit("k").retry_after_s - 0.25) < 1e-9


def test_keys_are_independent() -> None:
    rl, _ = limiter(1, 60.0)
    assert rl.hit("a").allowed
    assert not rl.hit("a").allowed
    assert rl.hit("b").allowed


def test_cost_above_burst_never_allowed() -> None:
    bucket = TokenBucket(5, 1.0)
    store: BoundedLRU[str, float] = BoundedLRU(10)
    d = bucket.acquire(store, "k", 0.0, cost=6)
    assert not d.allowed and d.retry_after_s == float("inf")
    assert bucket.acquire(store, "k", 0.0, cost=5).allowed


@settings(max_examples=60, deadline=None)
@given(
    requests=st.integers(1, 50),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0, 2.0, allow_nan=False), min_size=1, max_size=200),
)
def test_never_more_than_burst_plus_refill(requests: int, burst: int, gaps: list[float]) -> None:
    """Over any run: allowed <= burst + elapsed * rate (the token bucket bound)."""
    rl, clock = limiter(requests, 1.0, burst)
    start = clock.now
    allowed = 0
    for gap in gaps:
        clock.now += gap
        allowed += rl.hit("k").allowed
        assert allowed <= burst + (clock.now - start) * requests + 1e-6


@settings(max_examples=40, deadline=None)
@given(requests=st.integers(1, 20), burst=st.integers(1, 20))
def test_retry_after_is_exact(requests: int, burst: int) -> None:
    """Waiting exactly Retry-After (unrounded) lets the next request through, a bit less not."""
    rl, clock = limiter(requests, 1.0, burst)
    while rl.hit("k").allowed:
        pass
    wait = rl.hit("k").retry_after_s
    clock.now += wait * 0.99
    assert not rl.hit("k").allowed
    clock.now += wait * 0.01
    assert rl.hit("k").allowed
