"""SharedCounter with a fake clock: decisions, peers' reports, what a sync writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zonegate.coordinator.ratelimit_counts import (
    SharedCounter,
    decode_report,
    encode_report,
)
from zonegate.node.policy.lru import BoundedLRU
from zonegate.node.policy.sliding_window import SlidingWindow, WindowState

T0 = 1_700_000_000.0  # a window start for 1 s windows
S = 0.1


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


def counter(clock: Clock, window_s: float = 1.0, **kwargs: Any) -> SharedCounter:
    return SharedCounter(window_s, sync_interval_s=S, clock=clock, **kwargs)


def admitted(c: SharedCounter, n: int, key: str = "k", *, limit: int = 10, shared: bool = True,
             share: int = 5) -> int:  # fmt: skip
    return sum(c.hit(key, 1, limit, share, shared).allowed for _ in range(n))


def test_alone_it_admits_the_limit_per_window() -> None:
    clock = Clock()
    c = counter(clock)
    assert admitted(c, 15) == 10
    decision = c.hit("k", 1, 10, 5, True)
    assert not decision.allowed
    assert decision.limit == 10 and decision.remaining == 0
    assert decision.retry_after_s == pytest.approx(1.0 + 0.1)  # only in the next window
    clock.now += 1.5  # half of the previous window still counts: 10 x 0.5
    assert admitted(c, 10) == 5
    assert admitted(c, 1, "other") == 1  # keys are separate


def test_peers_counts_take_their_part_and_only_grow() -> None:
    clock = Clock(T0 + 0.5)
    c = counter(clock)
    c.receive("b", int(T0 * 1000), {"k": (7, 0.0, 0.0)}, clock.now)
    assert admitted(c, 10) == 3
    c.receive("b", int(T0 * 1000), {"k": (2, 0.0, 0.0)}, clock.now)  # restarted peer: keep 7
    assert admitted(c, 1) == 0
    c.receive("c", int(T0 * 1000), {"other": (9, 0.0, 0.0)}, clock.now)
    assert admitted(c, 5, "other") == 1


def test_previous_window_of_peers_slides_out() -> None:
    clock = Clock(T0 + 1.25)  # window T0+1, a quarter through
    c = counter(clock)
    c.receive("b", int(T0 * 1000), {"k": (8, 0.0, 0.0)}, clock.now)  # 8 x 0.75 = 6 count
    assert admitted(c, 10) == 4


def test_reports_of_windows_long_past_are_ignored() -> None:
    clock = Clock(T0 + 5.5)
    c = counter(clock)
    c.receive("b", int(T0 * 1000), {"k": (100, 0.0, 0.0)}, clock.now)
    assert admitted(c, 10) == 10


def test_peers_planned_rate_is_extrapolated_until_their_next_report() -> None:
    clock = Clock(T0 + 0.5)
    c = counter(clock)
    c.receive("b", int(T0 * 1000), {"k": (0, 100.0, 40.0)}, clock.now)
    clock.now += 0.06  # b admitted ~2.4 meanwhile: 2 whole ones
    assert admitted(c, 10) == 8
    clock.now += 0.1  # capped at one interval: 4
    assert admitted(c, 10) == 0  # 8 own + 4 extrapolated
    clock.now += 0.3  # b went quiet (no report for > 3 intervals): nothing extrapolated
    assert admitted(c, 10) == 2


def test_local_share_when_not_shared() -> None:
    clock = Clock()
    c = counter(clock)
    c.receive("b", int(T0 * 1000), {"k": (9, 0.0, 0.0)}, clock.now)
    assert admitted(c, 10, shared=False, share=4) == 4
    assert admitted(c, 10, shared=True) == 0  # own 4 + peer 9 >= 10
    decision = c.hit("k", 1, 10, 4, False)
    assert decision.limit == 4


def test_collect_writes_counts_and_demand_when_they_change() -> None:
    clock = Clock(T0 + 0.5)
    c = counter(clock)
    assert c.collect(clock.now) == []
    admitted(c, 3)
    [(start, report)] = c.collect(clock.now)
    assert start == int(T0 * 1000)
    assert report == {"k": (3, 3.0, 3.0)}  # 3 offered in this 1 s window, no contention
    c.published(start, report)
    assert c.collect(clock.now) == []  # nothing changed
    clock.now += 0.1
    assert c.collect(clock.now) == []  # demand is per window: still 3/s
    admitted(c, 1, "other")
    [(_, report)] = c.collect(clock.now)
    assert set(report) == {"k", "other"}


def test_keys_without_counts_are_forgotten_and_write_nothing() -> None:
    clock = Clock(T0 + 0.5)
    c = counter(clock)
    admitted(c, 2)
    for start, report in c.collect(clock.now):
        c.published(start, report)
    clock.now += 2.0  # both windows of "k" are past
    assert c.collect(clock.now) == []
    assert c.shared_keys == 0


def test_contention_splits_the_room_by_demand() -> None:
    clock = Clock(T0 + 0.5)
    c = counter(clock, rand=lambda: 0.0)
    start = int(T0 * 1000)
    # a peer counted 50 and is offered 500/s; here 40 were offered (and admitted)
    c.receive("b", start, {"k": (50, 500.0, 0.0)}, clock.now)
    assert admitted(c, 40, limit=100) == 40
    [(_, report)] = c.collect(clock.now)
    # room = 100 - 90 = 10 < (40 + 500)/s x 0.1 s: this node's part is 10 x 40 / 540
    # = 0.74, rounded up (draw 0): 1 until the next sync, i.e. a plan of 10/s
    count, demand, planned = report["k"]
    assert (count, demand, planned) == (40, 40.0, 10.0)
    assert admitted(c, 10, limit=100) == 1
    assert not c.hit("k", 1, 100, 50, True).allowed


def test_no_cap_without_contention() -> None:
    clock = Clock(T0 + 0.5)
    c = counter(clock)
    admitted(c, 5, limit=100)
    [(_, report)] = c.collect(clock.now)
    assert report["k"] == (5, 5.0, 5.0)
    assert admitted(c, 50, limit=100) == 50


def test_a_failed_write_is_retried_and_a_lost_lease_rewrites_everything() -> None:
    clock = Clock(T0 + 0.2)
    c = counter(clock)
    admitted(c, 2)
    first = c.collect(clock.now)
    assert first
    assert c.collect(clock.now) == first  # not published: still to write
    for start, report in first:
        c.published(start, report)
    assert c.collect(clock.now) == []
    c.forget_published()
    assert c.collect(clock.now) == first


def test_rollover_flushes_the_previous_window_once() -> None:
    clock = Clock(T0 + 0.95)
    c = counter(clock)
    admitted(c, 4)
    for start, report in c.collect(clock.now):
        c.published(start, report)
    admitted(c, 1)  # after the last sync of the window
    clock.now = T0 + 1.05
    admitted(c, 2)
    reports = dict(c.collect(clock.now))
    assert reports[int(T0 * 1000)] == {"k": (5, 0.0, 0.0)}
    assert reports[int(T0 * 1000) + 1000]["k"][0] == 2


def test_seed_own_adopts_counts_stored_before_a_restart() -> None:
    clock = Clock(T0 + 0.5)
    c = counter(clock)
    c.seed_own(int(T0 * 1000), {"k": (6, 12.0, 12.0)}, clock.now)
    assert admitted(c, 10) == 4
    c.seed_own(int(T0 * 1000), {"k": (3, 0.0, 0.0)}, clock.now)  # lower: nothing changes
    assert admitted(c, 1) == 0
    [(_, report)] = c.collect(clock.now)
    assert report["k"][0] == 10


def test_keys_beyond_the_shared_ones_are_limited_to_the_local_share() -> None:
    clock = Clock()
    c = counter(clock, max_shared_keys=2)
    assert admitted(c, 3, "a") == 3
    assert admitted(c, 3, "b") == 3
    assert admitted(c, 10, "c", share=4) == 4  # local only, at the node's share
    assert c.shared_keys == 2
    clock.now += 2.5  # a and b are empty now: their slots free up at the next sync
    c.collect(clock.now)
    assert c.shared_keys == 0
    assert admitted(c, 10, "c") == 10
    assert not c.idle(clock.now + 1)  # "c" is still counted
    c.collect(clock.now + 10)
    assert c.idle(clock.now + 10)


def test_reports_round_trip_and_bad_ones_are_refused() -> None:
    report = {"consumer\x1fa": (3, 1.5, 1.0), "b": (0, 0.0, 0.0)}
    assert decode_report(encode_report(report)) == report
    bad_ones = [b"[]", b'{"keys": 1}', b'{"keys": {"a": [1, 2]}}', b'{"keys": {"a": ["x", 1, 1]}}']
    for bad in bad_ones:
        with pytest.raises(ValueError):
            decode_report(bad)
    with pytest.raises(ValueError):
        decode_report(b"not json")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 500), min_size=1, max_size=200), st.integers(1, 50))
def test_alone_it_decides_like_the_local_sliding_window(gaps_ms: list[int], limit: int) -> None:
    clock = Clock(T0 + 0.0005)  # never exactly on a window start (ms rounding differs there)
    c = counter(clock)
    window = SlidingWindow(limit, 1.0)
    store: BoundedLRU[str, WindowState] = BoundedLRU(10)
    for gap in gaps_ms:
        clock.now += gap / 1000
        mine = c.hit("k", 1, limit, 1, True).allowed
        theirs = window.acquire(store, "k", clock.now, 1).allowed
        assert mine == theirs


@dataclass
class Node:
    name: str
    counter: SharedCounter
    admitted: list[float] = field(default_factory=list)
    unsynced: int = 0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.0, 0.05), st.integers(0, 2), st.sampled_from(["hit"] * 6 + ["sync"])),
        min_size=1,
        max_size=300,
    ),
    st.integers(1, 60),
)
def test_overshoot_is_at_most_what_the_others_had_not_synced(
    steps: list[tuple[float, int, str]], limit: int
) -> None:
    """The lemma behind the bound: whenever node i admits, the true sliding estimate
    is at most L + what the other nodes admitted since their last sync."""
    clock = Clock(T0)
    nodes = [Node(n, counter(clock)) for n in ("a", "b", "c")]
    for gap, index, action in steps:
        clock.now += gap
        node = nodes[index]
        if action == "sync":
            for start, report in node.counter.collect(clock.now):
                node.counter.published(start, report)
                for other in nodes:
                    if other is not node:
                        other.counter.receive(node.name, start, report, clock.now)
            node.unsynced = 0
            continue
        if not node.counter.hit("k", 1, limit, 1, True).allowed:
            continue
        node.admitted.append(clock.now)
        node.unsynced += 1
        w = node.counter.index(clock.now)
        fraction = max(0.0, clock.now - w)
        windows = [node.counter.index(t) for n in nodes for t in n.admitted]
        prev = windows.count(w - 1)
        curr = windows.count(w)
        true_estimate = prev * (1 - fraction) + curr
        unseen = sum(n.unsynced for n in nodes if n is not node)
        assert true_estimate <= limit + unseen + 1e-6
