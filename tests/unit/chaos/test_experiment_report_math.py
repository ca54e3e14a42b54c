"""Report numbers from a synthetic request log whose answers are known."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zonegate.chaos.analysis import (
    ETCD_LEADER,
    NODE_DOWN,
    AnalysisSettings,
    FaultTargets,
    HealthEvent,
    Marks,
    analyze,
    detection_time,
    leader_changes,
)
from zonegate.chaos.records import RequestRecord, percentile
from zonegate.chaos.timeline import bin_index, make_bins, zone_shares

T0 = 1000.0
FAULT = 1004.0
FAILOVER = 1004.5
RECOVERY = 1007.0
BACK = 1007.7
END = 1010.0


def synthetic_log() -> list[RequestRecord]:
    """100 req/s for 10 s: zone a, then 0.5 s of failures, zone b, then zone a again."""
    out = []
    for i in range(1000):
        t = T0 + i / 100
        if t < FAULT - 1e-9:
            out.append(RequestRecord(t, 5.0, 200, "a", f"a-{i % 2 + 1}"))
        elif t < FAILOVER - 1e-9:
            out.append(RequestRecord(t, 500.0, 0, error="ConnectionRefusedError"))
        elif t < BACK - 1e-9:
            out.append(RequestRecord(t, 7.0, 200, "b", "b-1"))
        else:
            out.append(RequestRecord(t, 5.0, 200, "a", f"a-{i % 2 + 1}"))
    return out


EVENTS = [
    HealthEvent(999.0, ETCD_LEADER, "e1"),
    HealthEvent(1003.0, NODE_DOWN, "b-9"),  # another node, before the fault: ignored
    HealthEvent(1004.3, NODE_DOWN, "a-1"),
    HealthEvent(1004.35, "zone_down", "a"),
    HealthEvent(1005.0, ETCD_LEADER, "e2"),
    HealthEvent(1006.0, ETCD_LEADER, ""),
    HealthEvent(1006.5, ETCD_LEADER, "e2"),
    HealthEvent(1008.0, ETCD_LEADER, "e3"),
]


def run_analysis(**marks: float | None):
    values = {
        "load_start": T0,
        "observe_end": END,
        "load_end": END,
        "method_start": 1002.0,
        "fault_at": FAULT,
        "recovery_at": RECOVERY,
        **marks,
    }
    return analyze(
        synthetic_log(),
        EVENTS,
        Marks(**values),  # type: ignore[arg-type]
        FaultTargets(frozenset({"a-1", "a-2"}), frozenset({"a"})),
        AnalysisSettings(bin_s=0.1, objective=0.999, slo_window_s=30 * 86400.0),
    )


def test_numbers_of_the_synthetic_log() -> None:
    numbers, bins = run_analysis()
    assert len(bins) == 100
    assert numbers.requests_total == 1000
    assert numbers.requests_failed == 50
    assert numbers.time_to_detect_s == pytest.approx(0.3)
    assert numbers.time_to_failover_s == pytest.approx(0.5)
    assert numbers.time_to_recover_s == pytest.approx(0.7)
    assert numbers.requests_during == 600
    assert numbers.failed_during == 50
    assert numbers.error_rate_during == pytest.approx(50 / 600)
    assert numbers.p99_during_ms == 500.0  # rank ceil(0.99 * 600) = 594 of 600: a failure
    # 800 requests in the 8 s from the method start, 50 bad: the 30-day window at that rate
    # allows 0.001 * 800 * 2592000 / 8 = 259200 bad ones.
    assert numbers.error_budget_consumed == pytest.approx(50 / 259200)
    assert numbers.leader_changes == 2  # e1 -> e2 (nobody between is no change), e2 -> e3
    assert numbers.baseline_shares == {"a": 1.0}


def test_failover_needs_sustained_bins_and_success() -> None:
    log = synthetic_log()
    # One lucky bin served by b inside the failure window is not a failover.
    log = [
        RequestRecord(r.t, 7.0, 200, "b", "b-1") if 1004.2 - 1e-9 <= r.t < 1004.3 - 1e-9 else r
        for r in log
    ]
    numbers, _ = analyze(
        log,
        EVENTS,
        Marks(T0, END, END, 1002.0, FAULT, RECOVERY),
        FaultTargets(frozenset({"a-1", "a-2"}), frozenset({"a"})),
        AnalysisSettings(),
    )
    assert numbers.time_to_failover_s == pytest.approx(0.5)


def test_no_fault_means_no_timings_and_during_from_the_method_start() -> None:
    numbers, _ = run_analysis(fault_at=None, recovery_at=None)
    assert numbers.time_to_detect_s is None
    assert numbers.time_to_failover_s is None
    assert numbers.time_to_recover_s is None
    assert numbers.requests_during == 800
    assert numbers.during == (1002.0, END)


def test_recovery_without_a_recovery_step_counts_from_the_fault() -> None:
    numbers, _ = run_analysis(recovery_at=None)
    assert numbers.time_to_recover_s == pytest.approx(BACK - FAULT)


def test_a_fault_without_traffic_targets_has_no_failover() -> None:
    numbers, _ = analyze(
        synthetic_log(),
        EVENTS,
        Marks(T0, END, END, 1002.0, FAULT, None),
        FaultTargets(etcd=True, etcd_leader=True),
        AnalysisSettings(),
    )
    assert numbers.time_to_failover_s is None
    assert numbers.time_to_detect_s == pytest.approx(1.0)  # the new leader e2 at 1005
    stopped, _ = analyze(
        synthetic_log(),
        EVENTS,
        Marks(T0, END, END, 1002.0, FAULT, None),
        FaultTargets(etcd=True),  # all of etcd stopped: no leader to elect
        AnalysisSettings(),
    )
    assert stopped.time_to_detect_s is None


def test_detection_rules() -> None:
    targets = FaultTargets(frozenset({"n1"}), frozenset({"z"}))
    events = [
        HealthEvent(9.0, NODE_DOWN, "n1"),
        HealthEvent(10.5, "zone_degraded", "z"),
        HealthEvent(11.0, NODE_DOWN, "n1"),
    ]
    assert detection_time(events, 10.0, targets) == 10.5
    assert detection_time(events, 10.6, targets) == 11.0
    assert detection_time(events, 12.0, targets) is None
    assert detection_time(events, 0.0, FaultTargets()) is None


def test_leader_changes_within_a_window() -> None:
    events = [HealthEvent(t, ETCD_LEADER, who) for t, who in [(1, "a"), (2, "b"), (3, "a")]]
    assert leader_changes(events, 0, 10) == 2
    assert leader_changes(events, 2.5, 10) == 1
    assert leader_changes(events, 4, 10) == 0


# --- binning -------------------------------------------------------------------------------
def test_bins_count_start_times_and_serve_only_successes() -> None:
    records = [
        RequestRecord(10.00, 1.0, 200, "a", "a-1"),
        RequestRecord(10.099, 3.0, 503, "a", "a-1"),
        RequestRecord(10.10, 2.0, 200, "b", "b-1"),
        RequestRecord(10.35, 9.0, 0),
        RequestRecord(9.99, 1.0, 200, "a"),  # before t0: ignored
        RequestRecord(10.5, 1.0, 200, "a"),  # at t1: ignored
    ]
    bins = make_bins(records, 10.0, 10.5, 0.1)
    assert [b.total for b in bins] == [2, 1, 0, 1, 0]
    assert [b.failed for b in bins] == [1, 0, 0, 1, 0]
    assert bins[0].zones == {"a": 1}  # the 503 is not "served by a"
    assert bins[0].success_rate == 0.5
    assert bins[0].p99_ms == 3.0
    assert bins[2].success_rate is None and bins[2].p99_ms is None
    assert bins[1].nodes == {"b-1": 1}
    assert zone_shares(bins) == {"a": 0.5, "b": 0.5}
    assert bins[4].end == pytest.approx(10.5)


def test_bin_edges_are_exact_for_decimal_times() -> None:
    assert bin_index(1000.1, 1000.0, 0.1) == 1
    assert bin_index(1000.3, 1000.0, 0.1) == 3
    assert bin_index(1000.0999, 1000.0, 0.1) == 0


@given(st.lists(st.floats(min_value=0, max_value=9.999, allow_nan=False), max_size=200))
def test_every_record_in_range_lands_in_exactly_one_bin(times: list[float]) -> None:
    records = [RequestRecord(100.0 + t, 1.0, 200, "z") for t in times]
    bins = make_bins(records, 100.0, 110.0, 0.1)
    assert len(bins) == 100
    assert sum(b.total for b in bins) == len(records)
    for b in bins:
        assert b.total == b.zones["z"]


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([], 99, None),
        ([5.0], 99, 5.0),
        (list(range(1, 101)), 99, 99),
        (list(range(1, 101)), 50, 50),
        ([3.0, 1.0, 2.0], 100, 3.0),
        ([3.0, 1.0, 2.0], 1, 1.0),
    ],
)
def test_nearest_rank_percentile(values, pct, expected) -> None:
    assert percentile(values, pct) == expected


def test_detection_while_the_fault_action_was_still_running_counts_as_zero() -> None:
    events = [HealthEvent(1003.9, NODE_DOWN, "a-1")]  # seen before the kill's API answered
    numbers, _ = analyze(
        synthetic_log(),
        events,
        Marks(T0, END, END, 1002.0, FAULT, None, fault_issued_at=1003.8),
        FaultTargets(frozenset({"a-1"}), frozenset()),
        AnalysisSettings(),
    )
    assert numbers.time_to_detect_s == 0.0
    assert numbers.detected_at == 1003.9
